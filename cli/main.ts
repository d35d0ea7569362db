/** The `tinta` command line: every command is a thin front over a library function. */
import { Command, CommanderError } from 'commander';
import { createRequire } from 'node:module';
import { isTintaError } from '../sdk/errors.ts';
import { registerPalette } from './commands/palette.ts';
import { registerTrain } from './commands/train.ts';
import { registerConvert } from './commands/convert.ts';
import { registerColorize } from './commands/colorize.ts';
import { registerEval } from './commands/eval.ts';
import { registerAnalyze } from './commands/analyze.ts';
import { registerFuse } from './commands/fuse.ts';
import { registerEmbed } from './commands/embed.ts';
import { registerModels } from './commands/models.ts';
import { registerBench } from './commands/bench.ts';

const pkg = createRequire(import.meta.url)('../package.json') as { version: string };

/** Build the program (exported so tests can drive it without a child process). */
export function buildProgram(): Command {
  const program = new Command('tinta')
    .description('Colorize black-and-white photos and film; train, export and run colorization models.')
    .version(pkg.version)
    .showHelpAfterError('(add --help for usage)')
    .exitOverride();
  registerColorize(program);
  registerTrain(program);
  registerConvert(program);
  registerPalette(program);
  registerEval(program);
  registerAnalyze(program);
  registerFuse(program);
  registerEmbed(program);
  registerModels(program);
  registerBench(program);
  return program;
}

/** Run the CLI with `argv` (process.argv form); resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    // A command may report partial failure through process.exitCode (e.g. some files failed).
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2;
    if (isTintaError(e)) {
      console.error(`tinta: ${e.message} [${e.code}]`);
      return 1;
    }
    console.error(e);
    return 1;
  }
}
