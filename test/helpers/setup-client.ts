/**
 * A client of the setup page's API over real HTTP, as the page in a browser is: it keeps the
 * session cookie it is given and sends it back, and sends the CSRF token when asked to.
 */
import { request as httpRequest } from 'node:http';

export interface SetupReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  json: Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  text: string;
  body: Buffer;
}

export interface SetupClient {
  call(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<SetupReply>;
  /** The CSRF header of the session signed in last. */
  withCsrf(): Record<string, string>;
  setCsrf(value: string): void;
  forgetCookie(): void;
  /** Claims the box with `code` (and signs in); the CSRF token is kept. */
  claim(code: string, password?: string): Promise<SetupReply>;
}

export function setupClient(host: string, port: () => number): SetupClient {
  let cookie = '';
  let csrf = '';
  const call = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
    new Promise<SetupReply>((resolve, reject) => {
      const data = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
      const req = httpRequest(
        {
          host,
          port: port(),
          method,
          path,
          headers: { ...(data !== undefined ? { 'content-type': 'application/json' } : {}), ...(cookie ? { cookie } : {}), ...headers },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const raw = Buffer.concat(chunks);
            const text = raw.toString('utf8');
            const setCookie = res.headers['set-cookie']?.[0];
            if (setCookie) cookie = setCookie.split(';')[0]!.endsWith('=') ? '' : setCookie.split(';')[0]!;
            let json = {};
            try {
              json = JSON.parse(text);
            } catch {
              // a page, a picture or a log, not JSON
            }
            resolve({ status: res.statusCode ?? 0, headers: res.headers, json, text, body: raw });
          });
        },
      );
      req.on('error', reject);
      if (data !== undefined) req.write(data);
      req.end();
    });
  return {
    call,
    withCsrf: () => ({ 'x-csrf-token': csrf }),
    setCsrf: (value) => (csrf = value),
    forgetCookie: () => (cookie = ''),
    async claim(code, password = 'mat-khau-xa-1') {
      const reply = await call('POST', '/api/claim', { code, password });
      csrf = reply.json.csrf;
      return reply;
    },
  };
}
