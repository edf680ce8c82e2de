// tiny_gpt's byte-level BPE tokenizer: the TypeScript twin of the encoder in
// tools/train_tiny_gpt.py, byte for byte (tools/check_tiny_gpt.mjs checks it against Python's ids).
//
//   ids 0..255       the bytes
//   ids 256..        merge k of tokenizer.json's `merges` (rank order) makes id 256 + k
//   eos_id (last)    <|endoftext|>; it decodes to nothing, and the text "<|endoftext|>" in a
//                    prompt is ordinary text, never this token
//
// Encoding: the UTF-8 bytes are split into chunks by GPT-2's pre-tokenizer pattern restated on
// bytes (contractions | optional space + letters | optional space + digits | optional space +
// other symbols | whitespace), where every byte >= 0x80 counts as a letter so that a multi-byte
// character never splits across chunks; then in each chunk the adjacent pair with the lowest merge
// rank is merged (every occurrence, left to right) until no pair has a rank.

// Run on a latin1 string, one char per byte, so it matches Python's bytes regex exactly.
const PRETOKENIZE =
  /'(?:s|t|re|ve|m|ll|d)| ?[A-Za-z\x80-\xff]+| ?[0-9]+| ?[^ \t\n\x0b\x0c\rA-Za-z0-9\x80-\xff]+|[ \t\n\x0b\x0c\r]+(?![^ \t\n\x0b\x0c\r])|[ \t\n\x0b\x0c\r]+/g;

const CACHE_LIMIT = 20_000;

export interface TokenizerJson {
  merges: [number, number][];
  vocab_size: number;
  eos_id: number;
  context?: number;
}

export class Tokenizer {
  readonly vocabSize: number;
  readonly eosId: number;
  /** The bytes of each token id (empty for <|endoftext|>). */
  readonly tokenBytes: Uint8Array[];
  private readonly merges: [number, number][];
  private readonly ranks = new Map<number, number>();
  private readonly cache = new Map<string, number[]>();

  constructor(json: TokenizerJson) {
    const { merges, vocab_size: vocabSize, eos_id: eosId } = json;
    if (!Array.isArray(merges)) throw new Error('tokenizer.json: "merges" is not an array');
    if (vocabSize !== 256 + merges.length + 1 || eosId !== vocabSize - 1) {
      throw new Error(`tokenizer.json: expected vocab_size 256 + ${merges.length} merges + 1 and eos_id last, got vocab_size ${vocabSize}, eos_id ${eosId}`);
    }
    this.vocabSize = vocabSize;
    this.eosId = eosId;
    this.merges = merges;
    const bytes: Uint8Array[] = [];
    for (let i = 0; i < 256; i++) bytes.push(Uint8Array.of(i));
    merges.forEach(([a, b], k) => {
      const id = 256 + k;
      if (!(Number.isInteger(a) && Number.isInteger(b) && a >= 0 && b >= 0 && a < id && b < id)) {
        throw new Error(`tokenizer.json: merge ${k} [${a}, ${b}] names a token not made before it`);
      }
      const ab = new Uint8Array(bytes[a].length + bytes[b].length);
      ab.set(bytes[a], 0);
      ab.set(bytes[b], bytes[a].length);
      bytes.push(ab);
      this.ranks.set(a * 65536 + b, k);
    });
    bytes.push(new Uint8Array(0)); // <|endoftext|>
    this.tokenBytes = bytes;
  }

  /** Token ids of a string (encoded as UTF-8 first). */
  encode(text: string): number[] {
    return this.encodeBytes(Buffer.from(text, 'utf8'));
  }

  /** Token ids of raw bytes (need not be valid UTF-8). */
  encodeBytes(data: Uint8Array): number[] {
    const s = Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('latin1');
    const ids: number[] = [];
    for (const m of s.matchAll(PRETOKENIZE)) {
      const chunk = m[0];
      let got = this.cache.get(chunk);
      if (!got) {
        got = this.encodeChunk(chunk);
        if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
        this.cache.set(chunk, got);
      }
      for (const id of got) ids.push(id);
    }
    return ids;
  }

  private encodeChunk(chunk: string): number[] {
    let ids: number[] = [];
    for (let i = 0; i < chunk.length; i++) ids.push(chunk.charCodeAt(i));
    while (ids.length >= 2) {
      let best = -1;
      for (let i = 0; i + 1 < ids.length; i++) {
        const r = this.ranks.get(ids[i] * 65536 + ids[i + 1]);
        if (r !== undefined && (best < 0 || r < best)) best = r;
      }
      if (best < 0) break;
      const [a, b] = this.merges[best];
      const id = 256 + best;
      const out: number[] = [];
      for (let i = 0; i < ids.length; ) {
        if (i + 1 < ids.length && ids[i] === a && ids[i + 1] === b) {
          out.push(id);
          i += 2;
        } else {
          out.push(ids[i]);
          i += 1;
        }
      }
      ids = out;
    }
    return ids;
  }

  /** The bytes of a sequence of token ids. */
  decodeBytes(ids: readonly number[]): Uint8Array {
    const parts = ids.map((id) => {
      const b = this.tokenBytes[id];
      if (!b) throw new Error(`token id ${id} is outside the vocabulary of ${this.vocabSize}`);
      return b;
    });
    return Buffer.concat(parts);
  }

  /** The text of a sequence of token ids; invalid UTF-8 becomes U+FFFD. */
  decode(ids: readonly number[]): string {
    return Buffer.from(this.decodeBytes(ids)).toString('utf8');
  }
}
