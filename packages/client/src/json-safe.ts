// Client JSON walked without recursion. V8's JSON.parse takes any depth, but JSON.stringify,
// Array.prototype.flat/join, String() and most libraries recurse, so a value nested a few thousand
// levels deep would overflow the stack (a RangeError, i.e. a 500) in any of them.

import { invalidArg } from './errors.js';

/** Deeper than any request needs; tensor data uses the same bound. */
export const MAX_JSON_NESTING = 64;

/**
 * Throw INVALID_ARGUMENT when `value` nests arrays or objects more than `limit` levels deep.
 * The message names `what` and the path to where the limit was passed (its first few steps).
 */
export function checkNesting(value: unknown, what: string, limit = MAX_JSON_NESTING): void {
  if (typeof value !== 'object' || value === null) return;
  // One frame per open container: its children and how far through them the walk is.
  const stack: { keys: string[] | null; items: unknown[]; i: number }[] = [];
  const push = (v: object) => {
    if (Array.isArray(v)) stack.push({ keys: null, items: v, i: 0 });
    else {
      const keys = Object.keys(v);
      stack.push({ keys, items: keys.map((k) => (v as Record<string, unknown>)[k]), i: 0 });
    }
  };
  push(value);
  while (stack.length) {
    const top = stack[stack.length - 1];
    if (top.i >= top.items.length) {
      stack.pop();
      continue;
    }
    const v = top.items[top.i++];
    if (typeof v !== 'object' || v === null) continue;
    if (stack.length >= limit) throw invalidArg(`${what} is nested more than ${limit} levels deep (at ${pathOf(stack)})`);
    push(v);
  }
}

function pathOf(stack: { keys: string[] | null; i: number }[]): string {
  const steps = stack.slice(0, 4).map((f) => (f.keys ? `.${f.keys[f.i - 1]}` : `[${f.i - 1}]`));
  return (steps.join('').replace(/^\./, '') || '(top)') + (stack.length > 4 ? '…' : '');
}

/** JSON text of a client value (bigints as digit strings), refused cleanly when nested too deeply. */
export function stringifyChecked(value: unknown, what: string): string {
  checkNesting(value, what);
  return JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? v.toString() : v));
}

/** A short description of any client value for an error message; never recurses, never long. */
export function describeValue(v: unknown): string {
  if (typeof v === 'string') return `string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v)}`;
  if (Array.isArray(v)) return `an array of ${v.length}`;
  if (v === null) return 'null';
  if (v === undefined) return 'nothing';
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${String(v)}`;
}
