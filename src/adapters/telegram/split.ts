/** Telegram's limit for one message text, in UTF-16 code units (https://core.telegram.org/bots/api#sendmessage). */
export const TELEGRAM_MAX_TEXT = 4096;

/**
 * Splits a reply into Telegram-sized parts, preferring paragraph boundaries (blank lines), then line breaks,
 * then spaces; a single overlong word is cut without breaking a surrogate pair. Parts are never empty and
 * never longer than `limit`.
 *
 * @param limit max part length in UTF-16 code units (default 4096)
 */
export function splitMessage(text: string, limit = TELEGRAM_MAX_TEXT): string[] {
  const parts: string[] = [];
  let current = '';
  const push = (piece: string, sep: string) => {
    if (!current) current = piece;
    else if (current.length + sep.length + piece.length <= limit) current += sep + piece;
    else {
      parts.push(current);
      current = piece;
    }
  };
  for (const para of text.split(/\n{2,}/)) {
    for (const chunk of fitBlock(para, limit)) push(chunk, '\n\n');
  }
  if (current) parts.push(current);
  return parts.length ? parts : [''];
}

function fitBlock(block: string, limit: number): string[] {
  if (block.length <= limit) return [block];
  const out: string[] = [];
  let current = '';
  const units = block.includes('\n') ? block.split('\n') : block.split(' ');
  const sep = block.includes('\n') ? '\n' : ' ';
  for (const u of units) {
    const pieces = u.length > limit ? (sep === '\n' ? fitBlock(u, limit) : hardCut(u, limit)) : [u];
    for (const p of pieces) {
      if (!current) current = p;
      else if (current.length + sep.length + p.length <= limit) current += sep + p;
      else {
        out.push(current);
        current = p;
      }
    }
  }
  if (current) out.push(current);
  return out;
}

function hardCut(word: string, limit: number): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < word.length) {
    let end = Math.min(i + limit, word.length);
    const code = word.charCodeAt(end - 1);
    if (end < word.length && code >= 0xd800 && code <= 0xdbff) end--; // keep surrogate pairs whole
    out.push(word.slice(i, end));
    i = end;
  }
  return out;
}
