/** Evaluation and analysis: `tinta eval` and `tinta analyze` are thin fronts over these. */
export * from './metrics.ts';
export * from './classifier.ts';
export * from './images.ts';
export * from './evaluate.ts';
export * from './report.ts';
export * from './kmeans.ts';
export * from './analyze.ts';
