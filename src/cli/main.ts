#!/usr/bin/env node
// duet <command> [flags]: picks the command; each command parses its own flags.

import { serve } from './serve.js';
import { serveHelp } from './serve-flags.js';
import { versionText } from './version.js';

async function main(): Promise<void> {
  const [cmd, ...rest] = process.argv.slice(2);
  switch (cmd) {
    case 'serve':
      return serve(rest);
    case 'bench':
      return (await import('../bench/cli.js')).benchCommand(rest);
    case 'version':
    case '-v':
    case '--version':
      process.stdout.write(versionText());
      return;
    case undefined:
    case '-h':
    case '--help':
    case 'help':
      process.stdout.write(serveHelp());
      return;
    default:
      process.stderr.write(`duet: unknown command '${cmd}'\n\n${serveHelp()}`);
      process.exit(2);
  }
}

main().catch((e) => {
  process.stderr.write(`duet: ${(e as Error).message}\n`);
  process.exit(1);
});
