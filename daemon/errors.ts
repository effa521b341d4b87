/**
 * One catalogue of coded errors. MQTT replies and HTTP responses carry the code; tests assert
 * the code, never the message. `recoverable` tells a caller whether retrying can help.
 */
export const ERROR_CODES = {
  DC_CONFIG_NOT_FOUND: { family: 'config', recoverable: false },
  DC_CONFIG_PARSE: { family: 'config', recoverable: false },
  DC_CONFIG_INVALID: { family: 'config', recoverable: false },
  DC_CONFIG_MIGRATION: { family: 'config', recoverable: false },
  DC_CONFIG_IO: { family: 'config', recoverable: true },
  DC_CONFIG_STALE_REVISION: { family: 'config', recoverable: true },
  DC_MEDIA_ELEMENT_MISSING: { family: 'media', recoverable: false },
  DC_MEDIA_NO_ENCODER: { family: 'media', recoverable: false },
  DC_MEDIA_PIPELINE: { family: 'media', recoverable: true },
  DC_MEDIA_TIMEOUT: { family: 'media', recoverable: true },
  DC_MEDIA_NOT_RUNNING: { family: 'media', recoverable: true },
  DC_MEDIA_BAD_REQUEST: { family: 'media', recoverable: false },
  DC_MEDIA_WORKER: { family: 'media', recoverable: true },
  DC_USAGE: { family: 'cli', recoverable: false },
  DC_CMD_UNKNOWN: { family: 'command', recoverable: false },
  DC_CMD_BAD_JSON: { family: 'command', recoverable: false },
  DC_CMD_INVALID: { family: 'command', recoverable: false },
  DC_CMD_TOO_LARGE: { family: 'command', recoverable: false },
  DC_CMD_BUSY: { family: 'command', recoverable: true },
  DC_CMD_TIMEOUT: { family: 'command', recoverable: true },
  DC_CMD_REFUSED: { family: 'command', recoverable: true },
  DC_CMD_EXPIRED: { family: 'command', recoverable: false },
  DC_NOT_AVAILABLE: { family: 'command', recoverable: false },
  DC_RTC_BAD_SDP: { family: 'rtc', recoverable: false },
  DC_RTC_CODEC: { family: 'rtc', recoverable: false },
  DC_RTC_TIMEOUT: { family: 'rtc', recoverable: true },
  DC_RTC_SIGNALING: { family: 'rtc', recoverable: true },
  DC_RTC_SERVER: { family: 'rtc', recoverable: true },
  DC_CEC_UNAVAILABLE: { family: 'hardware', recoverable: false },
  DC_CEC_COMMAND: { family: 'hardware', recoverable: true },
  DC_GPIO_NO_CHIP: { family: 'hardware', recoverable: false },
  DC_GPIO_BAD_PIN: { family: 'hardware', recoverable: false },
  DC_GPIO_EXPORT: { family: 'hardware', recoverable: true },
  DC_SETUP_LOGIN: { family: 'setup', recoverable: true },
  DC_SETUP_CODE: { family: 'setup', recoverable: true },
  DC_SETUP_LOCKED: { family: 'setup', recoverable: true },
  DC_SETUP_CSRF: { family: 'setup', recoverable: true },
  DC_SETUP_CLAIMED: { family: 'setup', recoverable: false },
  DC_SETUP_PASSWORD: { family: 'setup', recoverable: false },
  DC_SETUP_BAD_REQUEST: { family: 'setup', recoverable: false },
  DC_NET_UNAVAILABLE: { family: 'network', recoverable: false },
  DC_NET_INPUT: { family: 'network', recoverable: false },
  DC_NET_TIMEOUT: { family: 'network', recoverable: true },
  DC_NET_ACTIVATION: { family: 'network', recoverable: true },
  DC_NET_NOT_FOUND: { family: 'network', recoverable: false },
  DC_NET_FAILED: { family: 'network', recoverable: true },
  DC_INTERNAL: { family: 'internal', recoverable: true },
} as const satisfies Record<string, { family: string; recoverable: boolean }>;

export type ErrorCode = keyof typeof ERROR_CODES;

export class DcError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.details = details;
  }

  get recoverable(): boolean {
    return ERROR_CODES[this.code].recoverable;
  }

  /** The shape that crosses a process or network boundary (IPC, MQTT, HTTP). */
  toJSON(): SerializedError {
    return { code: this.code, message: this.message, ...(this.details ? { details: this.details } : {}) };
  }
}

export class ConfigError extends DcError {}
export class MediaError extends DcError {}

export interface SerializedError {
  code: string;
  message: string;
  details?: Record<string, unknown>;
}

export function isDcError(e: unknown): e is DcError {
  return e instanceof DcError;
}

/** Any thrown value as a serializable error; unknown failures keep their message. */
export function serializeError(e: unknown): SerializedError {
  if (e instanceof DcError) return e.toJSON();
  return { code: 'DC_INTERNAL', message: e instanceof Error ? e.message : String(e) };
}
