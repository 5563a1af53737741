/**
 * The site's command line (`npm run site -- …`) as the stories run it: Node
 * itself with tsx's loader, not `npx tsx`, which starts a second Node process
 * first and costs about a second a call on these machines.
 */
import { execFile, type ExecFileOptions } from 'node:child_process';

/** The program and arguments that run `mock-server/src/main.ts <args>`. */
export function siteCommand(args: readonly string[]): [string, string[]] {
  return [process.execPath, ['--import', 'tsx', 'mock-server/src/main.ts', ...args]];
}

/** Runs a site command to its end; a failure carries what it printed. */
export function runSiteCommand(
  args: readonly string[],
  options: ExecFileOptions = {},
): Promise<string> {
  const [program, argv] = siteCommand(args);
  return new Promise((resolve, reject) => {
    execFile(program, argv, { encoding: 'utf8', ...options }, (error, stdout, stderr) => {
      if (error) reject(new Error(`site ${args[0]} failed: ${error.message}\n${String(stderr)}`));
      else resolve(String(stdout));
    });
  });
}
