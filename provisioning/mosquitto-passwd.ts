/**
 * mosquitto's password-file hash (mosquitto 2.0, `mosquitto_passwd`): `$7$<iterations>$<salt>$<hash>`,
 * PBKDF2-HMAC-SHA512 over the password with a random 12-byte salt, 101 iterations (its default),
 * a 64-byte key, salt and key in base64. Written here so a fleet's file is made without running
 * mosquitto_passwd once per box; test/provisioning.test.ts checks a real mosquitto takes it.
 */
import { pbkdf2Sync, randomBytes } from 'node:crypto';

export const MOSQUITTO_ITERATIONS = 101;

export function mosquittoHash(password: string, salt: Buffer = randomBytes(12), iterations = MOSQUITTO_ITERATIONS): string {
  const key = pbkdf2Sync(password, salt, iterations, 64, 'sha512');
  return `$7$${iterations}$${salt.toString('base64')}$${key.toString('base64')}`;
}

/** One line of a password file; user names may not hold `:` (mosquitto splits on the first). */
export function passwordLine(user: string, password: string): string {
  if (user.includes(':') || /\s/.test(user)) throw new TypeError(`user name ${JSON.stringify(user)}: no colon or space`);
  return `${user}:${mosquittoHash(password)}`;
}
