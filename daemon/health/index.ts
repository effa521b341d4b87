// The health part's public surface; other parts import from here, not from the files inside.
export { HealthCollector, type HealthCollectorOptions } from './collector.js';
export { deriveAlerts } from './alerts.js';
export {
  ALERT_CODES,
  DEFAULT_THRESHOLDS,
  HealthThresholdsSchema,
  INTERFACE_TYPES,
  NetworkInterfaceSchema,
  PiThrottledSchema,
  TelemetrySchema,
  WifiLinkSchema,
  type AlertCode,
  type HealthThresholds,
  type NetworkInterface,
  type PiThrottled,
  type Telemetry,
  type WifiLink,
} from './schema.js';
export type { RunCommand } from './command.js';
export type { AddressSource } from './network.js';
export type { SystemInformation } from './system-information.js';
