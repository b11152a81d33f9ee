import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import { converse, type Endpoint } from './socket.js';

/** Who to log in as. */
export interface PgLogin {
  user: string;
  database: string;
  password?: string | undefined;
}

/** What a session learned: the server's ParameterStatus values and the first column of each row. */
export interface PgResult {
  parameters: Record<string, string>;
  rows: (string | null)[];
}

/** A Postgres ErrorResponse, with its SQLSTATE. */
export class PgServerError extends Error {
  override readonly name = 'PgServerError';
  constructor(
    message: string,
    readonly sqlState: string,
  ) {
    super(message);
  }
}

function message(type: string, body: Buffer): Buffer {
  const header = Buffer.alloc(5);
  header.write(type, 0, 'latin1');
  header.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([header, body]);
}

function cstring(text: string): Buffer {
  return Buffer.from(`${text}\0`, 'utf8');
}

function startupMessage(login: PgLogin): Buffer {
  const body = Buffer.concat([
    Buffer.from([0, 3, 0, 0]), // protocol 3.0
    cstring('user'),
    cstring(login.user),
    cstring('database'),
    cstring(login.database),
    Buffer.from([0]),
  ]);
  const length = Buffer.alloc(4);
  length.writeInt32BE(body.length + 4);
  return Buffer.concat([length, body]);
}

function errorFields(body: Buffer): PgServerError {
  const fields: Record<string, string> = {};
  let offset = 0;
  while (offset < body.length && body[offset] !== 0) {
    const code = String.fromCharCode(body[offset] ?? 0);
    const end = body.indexOf(0, offset + 1);
    fields[code] = body.toString('utf8', offset + 1, end);
    offset = end + 1;
  }
  return new PgServerError(fields.M ?? 'unknown error', fields.C ?? '');
}

/** Minimal SCRAM-SHA-256 client (RFC 7677), enough to log in to a password-protected server. */
class Scram {
  readonly #nonce = randomBytes(18).toString('base64');
  readonly #clientFirstBare = `n=*,r=${this.#nonce}`;

  constructor(readonly password: string) {}

  first(): Buffer {
    const data = Buffer.from(`n,,${this.#clientFirstBare}`);
    const length = Buffer.alloc(4);
    length.writeInt32BE(data.length);
    return message('p', Buffer.concat([cstring('SCRAM-SHA-256'), length, data]));
  }

  final(serverFirst: string): Buffer {
    const attrs = Object.fromEntries(serverFirst.split(',').map((part) => [part[0], part.slice(2)]));
    const salted = pbkdf2Sync(
      this.password,
      Buffer.from(attrs.s ?? '', 'base64'),
      Number(attrs.i),
      32,
      'sha256',
    );
    const clientKey = createHmac('sha256', salted).update('Client Key').digest();
    const storedKey = createHash('sha256').update(clientKey).digest();
    const withoutProof = `c=biws,r=${attrs.r}`;
    const authMessage = `${this.#clientFirstBare},${serverFirst},${withoutProof}`;
    const signature = createHmac('sha256', storedKey).update(authMessage).digest();
    const proof = clientKey.map((byte, i) => byte ^ (signature[i] ?? 0));
    return message('p', Buffer.from(`${withoutProof},p=${Buffer.from(proof).toString('base64')}`));
  }
}

/**
 * Logs in over the wire protocol (trust, cleartext, md5 or SCRAM-SHA-256), optionally runs one
 * simple query, and returns the server parameters and the first column of each row.
 */
export function pgSession(
  endpoint: Endpoint,
  login: PgLogin,
  sql?: string,
  timeoutMs = 2_000,
): Promise<PgResult> {
  return converse<PgResult>(endpoint, timeoutMs, (write) => {
    write(startupMessage(login));
    const result: PgResult = { parameters: {}, rows: [] };
    let buffer = Buffer.alloc(0);
    let queried = false;
    let scram: Scram | undefined;
    const needPassword = () => {
      if (login.password === undefined) throw new PgServerError('the server asks for a password', '28P01');
      return login.password;
    };
    return (chunk) => {
      buffer = Buffer.concat([buffer, chunk]);
      while (buffer.length >= 5) {
        const length = buffer.readInt32BE(1);
        if (buffer.length < length + 1) return undefined;
        const type = String.fromCharCode(buffer[0] ?? 0);
        const body = buffer.subarray(5, length + 1);
        buffer = buffer.subarray(length + 1);
        if (type === 'E') throw errorFields(body);
        if (type === 'S') {
          const nameEnd = body.indexOf(0);
          result.parameters[body.toString('utf8', 0, nameEnd)] = body.toString(
            'utf8',
            nameEnd + 1,
            body.length - 1,
          );
        } else if (type === 'R') {
          const code = body.readInt32BE(0);
          if (code === 3) write(message('p', cstring(needPassword())));
          else if (code === 5) {
            const inner = createHash('md5')
              .update(needPassword() + login.user)
              .digest('hex');
            const outer = createHash('md5').update(inner).update(body.subarray(4, 8)).digest('hex');
            write(message('p', cstring(`md5${outer}`)));
          } else if (code === 10) {
            scram = new Scram(needPassword());
            write(scram.first());
          } else if (code === 11 && scram) write(scram.final(body.toString('utf8', 4)));
          else if (code !== 0 && code !== 12)
            throw new PgServerError(`unsupported auth method ${code}`, '28000');
        } else if (type === 'D') {
          const columnLength = body.readInt32BE(2);
          result.rows.push(columnLength < 0 ? null : body.toString('utf8', 6, 6 + columnLength));
        } else if (type === 'Z') {
          if (sql === undefined || queried) {
            write(message('X', Buffer.alloc(0)));
            return result;
          }
          queried = true;
          write(message('Q', cstring(sql)));
        }
      }
      return undefined;
    };
  });
}
