export { type HealthHandlerOptions, healthHandler } from './health-handler.js';
export { instrumentOpenTelemetry, type OpenTelemetryOptions } from './opentelemetry.js';
export { type Collector, collectPrometheus, type PrometheusOptions } from './prometheus.js';
