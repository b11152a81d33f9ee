import { converse, type Endpoint } from './socket.js';

/** A RESP error reply (`-ERR …`), returned as a value so callers decide. */
export class RespError extends Error {
  override readonly name = 'RespError';
}

/** A decoded RESP2 reply. */
export type RespValue = string | number | null | RespError | RespValue[];

/** Encodes one command as a RESP array of bulk strings. */
export function encodeCommand(args: readonly string[]): string {
  let out = `*${args.length}\r\n`;
  for (const arg of args) out += `$${Buffer.byteLength(arg)}\r\n${arg}\r\n`;
  return out;
}

/** Parses one reply at `offset`; undefined when the buffer does not hold a whole reply yet. */
export function parseReply(buffer: Buffer, offset = 0): { value: RespValue; next: number } | undefined {
  const lineEnd = buffer.indexOf('\r\n', offset);
  if (lineEnd === -1) return undefined;
  const type = String.fromCharCode(buffer[offset] ?? 0);
  const line = buffer.toString('utf8', offset + 1, lineEnd);
  const afterLine = lineEnd + 2;
  switch (type) {
    case '+':
      return { value: line, next: afterLine };
    case '-':
      return { value: new RespError(line), next: afterLine };
    case ':':
      return { value: Number(line), next: afterLine };
    case '$': {
      const length = Number(line);
      if (length < 0) return { value: null, next: afterLine };
      if (buffer.length < afterLine + length + 2) return undefined;
      return { value: buffer.toString('utf8', afterLine, afterLine + length), next: afterLine + length + 2 };
    }
    case '*': {
      const count = Number(line);
      if (count < 0) return { value: null, next: afterLine };
      const items: RespValue[] = [];
      let next = afterLine;
      for (let i = 0; i < count; i++) {
        const item = parseReply(buffer, next);
        if (!item) return undefined;
        items.push(item.value);
        next = item.next;
      }
      return { value: items, next };
    }
    default:
      throw new Error(`not a RESP reply: ${JSON.stringify(buffer.toString('utf8', offset, lineEnd))}`);
  }
}

/** Sends `commands` pipelined on one fresh connection and resolves with one reply per command. */
export function redisCommands(
  endpoint: Endpoint,
  commands: readonly (readonly string[])[],
  timeoutMs = 2_000,
): Promise<RespValue[]> {
  return converse(endpoint, timeoutMs, (write) => {
    write(commands.map(encodeCommand).join(''));
    let buffer = Buffer.alloc(0);
    return (chunk) => {
      buffer = Buffer.concat([buffer, chunk]);
      const replies: RespValue[] = [];
      let offset = 0;
      while (replies.length < commands.length) {
        const reply = parseReply(buffer, offset);
        if (!reply) return undefined;
        replies.push(reply.value);
        offset = reply.next;
      }
      return replies;
    };
  });
}

/** Credentials found in a redis URL, as the AUTH command wants them (empty when none). */
export function authArgs(username: string | undefined, password: string | undefined): string[] {
  if (!password) return [];
  return username && username !== 'default' ? ['AUTH', username, password] : ['AUTH', password];
}

/** Runs (optional AUTH and) `INFO server` and returns `redis_version`; throws on an error reply. */
export async function redisVersion(
  endpoint: Endpoint,
  auth: readonly string[] = [],
  timeoutMs = 2_000,
): Promise<string> {
  const commands: string[][] = auth.length ? [[...auth], ['INFO', 'server']] : [['INFO', 'server']];
  const replies = await redisCommands(endpoint, commands, timeoutMs);
  for (const reply of replies) if (reply instanceof RespError) throw reply;
  const info = replies.at(-1);
  const match = typeof info === 'string' ? /^redis_version:(.+)$/m.exec(info) : null;
  if (!match?.[1]) throw new Error('INFO server did not report redis_version');
  return match[1].trim();
}
