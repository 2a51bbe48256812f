/**
 * How deep JSON values may nest where the gateway parses or prints them.
 * Parsers and printers (JSON.stringify included) recurse once per level, so
 * a value nested 10,000 deep overflows the stack (HARD-17); 512 levels are
 * far more than any document needs.
 */
export const MAX_JSON_DEPTH = 512;

/**
 * The deepest nesting of arrays and objects in JSON text, by one linear scan
 * that skips string contents (escapes included) and never recurses. Stops
 * counting once `limit` is exceeded: the answer is then `limit + 1`.
 */
export function jsonNestingDepth(text: string, limit = MAX_JSON_DEPTH): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c /* \ */) i++;
      else if (c === 0x22 /* " */) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x5b /* [ */ || c === 0x7b /* { */) {
      depth++;
      if (depth > deepest) {
        deepest = depth;
        if (deepest > limit) return limit + 1;
      }
    } else if (c === 0x5d /* ] */ || c === 0x7d /* } */) {
      depth--;
    }
  }
  return deepest;
}
