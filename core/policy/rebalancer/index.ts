export * from './pair-swapping.ts';
export * from './peers.ts';
export * from './plan.ts';
export * from './weights.ts';
