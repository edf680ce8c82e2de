// `duet serve --config FILE`: a YAML or JSON mapping of flag names to values. Which keys are allowed
// and what their values must be is the flag table's business (flags.ts); this only reads the file.

import { readFile } from 'node:fs/promises';
import { FlagError, type ConfigFile } from './flags.js';

/** The YAML parser, loaded only when a YAML file is read (a server without one never pays for it). */
async function yamlParser(): Promise<(src: string) => unknown> {
  return (await import('yaml')).parse;
}

/** JSON by its extension (.json); YAML otherwise (YAML 1.2 reads JSON too). */
export async function readConfigFile(path: string): Promise<ConfigFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new FlagError(`--config: cannot read '${path}': ${(e as Error).message}`);
  }
  const json = path.toLowerCase().endsWith('.json');
  const parse = json ? JSON.parse : await yamlParser();
  try {
    return { path, data: parse(text) };
  } catch (e) {
    throw new FlagError(`config file ${path} is not valid ${json ? 'JSON' : 'YAML'}: ${(e as Error).message.split('\n')[0]}`);
  }
}
