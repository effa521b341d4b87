import type { AlertCode, HealthThresholds, Telemetry } from './schema.js';

/** Alert codes for a sample, in the order of ALERT_CODES; a missing reading raises nothing. */
export function deriveAlerts(sample: Omit<Telemetry, 'alerts'>, thresholds: HealthThresholds): AlertCode[] {
  const alerts: AlertCode[] = [];
  const pi = sample.power.piThrottled;
  if (pi?.underVoltageNow) alerts.push('under-voltage');
  else if (pi?.underVoltageOccurred) alerts.push('under-voltage-occurred');
  if (pi && (pi.throttledNow || pi.frequencyCappedNow || pi.softTempLimitNow)) alerts.push('throttled');
  const tempC = sample.temperature.socC;
  if (tempC !== null && tempC >= thresholds.overheatingTempC) alerts.push('overheating');
  if (sample.disk && sample.disk.usedPercent >= thresholds.diskFullPercent) alerts.push('disk-almost-full');
  const memory = sample.memory;
  if (memory && (memory.availableBytes / memory.totalBytes) * 100 < thresholds.memoryLowAvailablePercent) alerts.push('memory-low');
  const wifi = sample.network.wifi;
  if (wifi && wifi.signalDbm <= thresholds.weakWifiSignalDbm) alerts.push('weak-wifi');
  return alerts;
}
