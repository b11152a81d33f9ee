import { request } from 'node:http';
import { ExternalServer } from './external.js';
import type { Endpoint, ServerKind } from './handle.js';

/** What to run in a container for one kind of server. */
export interface ContainerSpec {
  kind: ServerKind;
  image: string;
  port: number;
  command?: string[];
  environment?: Record<string, string>;
  /** The URL clients use, from the mapped host and port. */
  url(host: string, port: number): string;
  /** Waits for the server to answer and returns its version. */
  probe(endpoint: Endpoint): Promise<string>;
}

/** True when a Docker engine answers `GET /_ping` within a second (DOCKER_HOST or the default socket). */
export function dockerAnswers(): Promise<boolean> {
  const dockerHost = process.env.DOCKER_HOST ?? 'unix:///var/run/docker.sock';
  const target = dockerHost.startsWith('unix://')
    ? { socketPath: dockerHost.slice('unix://'.length) }
    : (() => {
        const url = new URL(dockerHost.replace(/^tcp:/, 'http:'));
        return { host: url.hostname, port: Number(url.port || 2375) };
      })();
  return new Promise((resolve) => {
    const req = request({ ...target, path: '/_ping', method: 'GET', timeout: 1_000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.once('timeout', () => req.destroy());
    req.once('error', () => resolve(false));
    req.end();
  });
}

/** Starts `spec` with testcontainers (an optional dependency, loaded only here) and waits until it answers. */
export async function startContainer(spec: ContainerSpec): Promise<ExternalServer> {
  const { GenericContainer } = await import('testcontainers');
  let container = new GenericContainer(spec.image).withExposedPorts(spec.port);
  if (spec.command) container = container.withCommand(spec.command);
  if (spec.environment) container = container.withEnvironment(spec.environment);
  const started = await container.start();
  const host = started.getHost();
  const port = started.getMappedPort(spec.port);
  const stop = async () => {
    await started.stop();
  };
  try {
    const version = await spec.probe({ host, port });
    return new ExternalServer(spec.kind, 'container', spec.url(host, port), host, port, version, stop);
  } catch (error) {
    await stop();
    throw error;
  }
}
