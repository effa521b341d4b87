/**
 * The setup page's admin password, kept only as a scrypt hash in the box's state folder. There
 * is no default password: until one is set the box is unclaimed, and claiming needs the code
 * shown on the TV. Removing the file (factory reset) returns the box to that step.
 */
import { randomBytes, scrypt as scryptCallback, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import { Type, type Static } from '@sinclair/typebox';
import { writeFileAtomic } from '../config/atomic-write.js';
import { DcError } from '../errors.js';
import { compileCheck, formatProblems } from '../util/schema-check.js';

const scrypt = (password: string, salt: Buffer, length: number, options: ScryptOptions) =>
  new Promise<Buffer>((resolve, reject) => scryptCallback(password, salt, length, options, (e, key) => (e ? reject(e) : resolve(key))));

/** N = 2^15, r = 8: ~32 MB and ~100 ms on a Pi 4, slow enough to make guessing offline costly. */
const PARAMS = { N: 2 ** 15, r: 8, p: 1 } as const;
const KEY_LENGTH = 32;
export const MIN_PASSWORD = 8;
export const MAX_PASSWORD = 128;

const HashFile = Type.Object(
  {
    algorithm: Type.Literal('scrypt'),
    N: Type.Integer({ minimum: 2 ** 10, maximum: 2 ** 20 }),
    r: Type.Integer({ minimum: 1, maximum: 32 }),
    p: Type.Integer({ minimum: 1, maximum: 16 }),
    salt: Type.String({ minLength: 16, maxLength: 64 }),
    hash: Type.String({ minLength: 16, maxLength: 128 }),
  },
  { additionalProperties: false },
);
type HashFile = Static<typeof HashFile>;
const checkHashFile = compileCheck(HashFile);

export class AdminPassword {
  constructor(private readonly path: string) {}

  async isSet(): Promise<boolean> {
    return (await this.read()) !== null;
  }

  /** Sets (or replaces) the password; too short or too long is refused, naming the rule. */
  async set(password: string): Promise<void> {
    if ([...password].length < MIN_PASSWORD || [...password].length > MAX_PASSWORD) {
      throw new DcError('DC_SETUP_PASSWORD', `the password must have ${MIN_PASSWORD} to ${MAX_PASSWORD} characters`, { field: 'password' });
    }
    const salt = randomBytes(16);
    const hash = await scrypt(password.normalize('NFC'), salt, KEY_LENGTH, { ...PARAMS, maxmem: 128 * PARAMS.N * PARAMS.r * 2 });
    const file: HashFile = { algorithm: 'scrypt', ...PARAMS, salt: salt.toString('base64'), hash: hash.toString('base64') };
    await writeFileAtomic(this.path, `${JSON.stringify(file)}\n`);
  }

  /** Whether `password` is the one set; false when none is set. Constant time over the hash. */
  async verify(password: string): Promise<boolean> {
    const file = await this.read();
    if (!file || [...password].length > MAX_PASSWORD) return false;
    const expected = Buffer.from(file.hash, 'base64');
    const actual = await scrypt(password.normalize('NFC'), Buffer.from(file.salt, 'base64'), expected.length, {
      N: file.N,
      r: file.r,
      p: file.p,
      maxmem: 128 * file.N * file.r * 2,
    });
    return timingSafeEqual(actual, expected);
  }

  /** Forgets the password: the box is unclaimed again. */
  async clear(): Promise<void> {
    await rm(this.path, { force: true });
  }

  private async read(): Promise<HashFile | null> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
    // A damaged file must not let anyone in: logins fail with a reason until a factory reset
    // (a very long press of the speak button) clears it.
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = null;
    }
    const checked = checkHashFile(parsed);
    if (!checked.ok) throw new DcError('DC_SETUP_PASSWORD', `the admin password file ${this.path} is damaged: ${parsed === null ? 'not JSON' : formatProblems(checked.problems)}`);
    return checked.value;
  }
}
