// What protobufjs's parse does not keep but a FileDescriptorProto needs: the syntax line, which imports
// are public or weak, and, inside each message, where map fields stand among the nested message
// declarations (protoc adds a map's <Field>Entry type at the field, so the order is source order), and
// which rpcs have a `{ }` body (protoc then sets an empty MethodOptions).

import protobuf from 'protobufjs';

export interface Layout {
  syntax: string;
  imports: { file: string; kind?: 'public' | 'weak' }[];
  /** Per message (full name, no leading dot): 'message:Name' and 'map:field' entries in source order. */
  order: Map<string, string[]>;
  /** Methods (Service.Method, full name, no leading dot) declared with a body. */
  rpcBodies: Set<string>;
}

interface Block { kind: 'message' | 'service'; name: string }

export function layoutOf(source: string): Layout {
  const tn = protobuf.tokenize(source, false);
  const tokens: string[] = [];
  for (let t = tn.next(); t !== null; t = tn.next()) tokens.push(t);
  const layout: Layout = { syntax: 'proto2', imports: [], order: new Map(), rpcBodies: new Set() };
  let pkg = '';
  // One entry per open brace: the message or service it opens (full name), or null for any other block.
  const scope: (Block | null)[] = [];
  let pending: Block | null = null;
  const current = () => (scope.length ? scope[scope.length - 1] : null);
  const qualify = (name: string) => {
    const owner = current();
    return owner ? `${owner.name}.${name}` : pkg ? `${pkg}.${name}` : name;
  };
  const note = (entry: string) => {
    const owner = current();
    if (owner?.kind !== 'message') return;
    const list = layout.order.get(owner.name) ?? [];
    list.push(entry);
    layout.order.set(owner.name, list);
  };
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    if (t === '"' || t === "'") {
      i += 2; // a string's contents, then its closing quote: never structure
    } else if (t === '{') {
      scope.push(pending);
      pending = null;
    } else if (t === '}') {
      scope.pop();
    } else if (scope.length === 0 && t === 'syntax' && tokens[i + 1] === '=') {
      layout.syntax = tokens[i + 3];
      i += 4;
    } else if (scope.length === 0 && t === 'package') {
      pkg = tokens[++i];
    } else if (scope.length === 0 && t === 'import') {
      const kind = tokens[i + 1] === 'public' || tokens[i + 1] === 'weak' ? tokens[++i] as 'public' | 'weak' : undefined;
      layout.imports.push({ file: tokens[i + 2], kind });
      i += 3;
    } else if (t === 'message' && tokens[i + 2] === '{' && (scope.length === 0 || current()?.kind === 'message')) {
      note(`message:${tokens[i + 1]}`);
      pending = { kind: 'message', name: qualify(tokens[i + 1]) };
      i += 1;
    } else if (t === 'service' && scope.length === 0 && tokens[i + 2] === '{') {
      pending = { kind: 'service', name: qualify(tokens[i + 1]) };
      i += 1;
    } else if (t === 'rpc' && current()?.kind === 'service') {
      // The signature holds no braces or semicolons: the first of either ends it.
      let j = i + 1;
      while (j < tokens.length && tokens[j] !== '{' && tokens[j] !== ';') j++;
      if (tokens[j] === '{') layout.rpcBodies.add(qualify(tokens[i + 1]));
      i = j - 1;
    } else if (t === 'map' && tokens[i + 1] === '<') {
      const close = tokens.indexOf('>', i);
      if (close > 0) note(`map:${tokens[close + 1]}`);
      i = Math.max(i, close + 1);
    }
  }
  return layout;
}
