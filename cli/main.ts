/**
 * `sc`: the operator's command line over the orchestration API. Human tables
 * by default, `--json` for scripts; exit codes: 0 ok, 1 refused by the API
 * (4xx, message names the field), 2 usage error, 3 API unreachable or failing.
 */
import { Command, CommanderError } from 'commander';
import { CliError, EXIT } from './client.ts';
import { registerApp } from './commands/app.ts';
import { registerConfig } from './commands/config.ts';
import { registerContainer } from './commands/container.ts';
import { registerFindings } from './commands/findings.ts';
import { registerHost } from './commands/host.ts';
import { registerOpenapi } from './commands/openapi.ts';
import { registerRule } from './commands/rule.ts';
import { registerScale } from './commands/scale.ts';
import { registerStatus } from './commands/status.ts';
import { registerUser } from './commands/user.ts';
import { cliContext, type Io } from './context.ts';

export { configValue } from './args.ts';
export type { Io } from './context.ts';

const defaultIo: Io = {
  out: (t) => process.stdout.write(`${t}\n`),
  err: (t) => process.stderr.write(`${t}\n`),
  env: process.env,
};

/** The `sc` program: global options, then each noun's commands from cli/commands/. */
export function buildProgram(io: Io, done: (code: number) => void): Command {
  const program = new Command('sc');
  program
    .description(
      'Operate serverless-containers: hosts, containers, applications, users, rules, config, scaling',
    )
    .option('--json', 'print the API answer as JSON, and errors as one JSON line on stderr (for scripts)')
    .option('--url <url>', 'API base URL (default: $SC_API_URL)')
    .option(
      '--token <token>',
      'bearer token of the local API (default: $SC_API_TOKEN); without one, requests are SigV4-signed',
    )
    .option('--invoke <function>', 'invoke the api Lambda function directly instead of HTTP')
    .option('--region <region>', 'AWS region for SigV4 and --invoke (default: $AWS_REGION)')
    .addHelpText(
      'after',
      '\nExit codes: 0 ok, 1 refused by the API (the message names the field), 2 usage error, 3 API unreachable or failing.',
    )
    .showHelpAfterError()
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s.trimEnd()), writeErr: (s) => io.err(s.trimEnd()) });
  const ctx = cliContext(program, io, done);
  for (const register of [
    registerHost,
    registerContainer,
    registerApp,
    registerUser,
    registerRule,
    registerConfig,
    registerScale,
    registerStatus,
    registerFindings,
    registerOpenapi,
  ])
    register(program, ctx);
  return program;
}

/**
 * An error as one JSON line on stderr, for scripts (`--json`): the exit code, the message, and the
 * API's status and error body (error, message, field) when it answered.
 */
function jsonError(err: CliError): string {
  const body = err.answer?.body;
  return JSON.stringify({
    exitCode: err.exitCode,
    message: err.message,
    ...(err.answer === null ? {} : { status: err.answer.status }),
    ...(body !== null && typeof body === 'object' && !Array.isArray(body) ? body : {}),
  });
}

/** Runs `sc` with these arguments; returns the exit code (never exits the process). */
export async function main(argv: readonly string[], io: Io = defaultIo): Promise<number> {
  let code: number = EXIT.ok;
  const program = buildProgram(io, (c) => {
    code = c;
  });
  if (argv.length === 0) {
    program.outputHelp();
    return EXIT.usage;
  }
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return code;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version are not errors; usage mistakes are.
      return err.exitCode === 0 || err.code === 'commander.helpDisplayed' || err.code === 'commander.help'
        ? EXIT.ok
        : EXIT.usage;
    }
    const json = program.opts<{ json?: boolean }>().json === true;
    if (err instanceof CliError) {
      io.err(json ? jsonError(err) : `sc: ${err.message}`);
      return err.exitCode;
    }
    io.err(
      json
        ? JSON.stringify({ exitCode: EXIT.unavailable, message: `unexpected error: ${String(err)}` })
        : `sc: unexpected error: ${(err as Error).stack ?? String(err)}`,
    );
    return EXIT.unavailable;
  }
}
