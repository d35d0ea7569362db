/** The colour core: the single source of truth for Lab, buckets, soft-encoding, rebalancing and decoding. */
export * from './lab.ts';
export * from './buckets.ts';
export * from './encode.ts';
export * from './decode.ts';
export * from './palette.ts';
export * from './ab-grid.ts';
export * from './soft-targets.ts';
