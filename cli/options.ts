/** Option parsers shared by the CLI commands. */
import { InvalidArgumentError } from 'commander';

/** Parse a finite number or fail with commander's usage error. */
export function parseNumber(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError(`"${value}" is not a number.`);
  return n;
}

/** Parse a positive integer or fail with commander's usage error. */
export function parsePositiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`"${value}" is not a positive integer.`);
  return n;
}
