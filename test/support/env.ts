/**
 * What an integration test needs to reach the emulators that global-setup
 * started. Each test creates its own table and queues (unique names), so
 * test files never see each other's state.
 */
import { randomUUID } from 'node:crypto';
import type { DynamoFlavour } from '../../local/emulators.ts';

function required(name: string): string {
  const v = process.env[name];
  if (v === undefined || v === '')
    throw new Error(`${name} is not set: run integration tests through jest (global-setup)`);
  return v;
}

export const DYNAMO_FLAVOURS: readonly DynamoFlavour[] = ['dynalite', 'dynamodb-local'];

export function dynamoEndpoint(flavour: DynamoFlavour): string {
  return required(flavour === 'dynalite' ? 'SC_TEST_DYNALITE' : 'SC_TEST_DYNAMODB_LOCAL');
}
export const sqsEndpoint = (): string => required('SC_TEST_SQS');
export const victoriaPromUrl = (): string => required('SC_TEST_VM_PROM');
export const victoriaOpentsdbUrl = (): string => required('SC_TEST_VM_OPENTSDB');

/** A name unique to this test run, valid as table, queue and structure name. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}
