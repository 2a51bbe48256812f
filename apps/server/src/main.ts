#!/usr/bin/env node
import 'reflect-metadata';
import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { AddressInfo } from 'node:net';
import type { Server as TlsServer } from 'node:tls';
import { DataDirInUse, lockDataDir } from '#engine';
import { rejectNonJsonBodies, verifyJsonBody } from './admin/common/json-body';
import { mountOpenApi } from './admin/openapi';
import { AppModule } from './app.module';
import { banner } from './banner';
import { serveConsole } from './console/console-assets';
import { BootstrapService } from './bootstrap/bootstrap.service';
import { ConfigError, loadConfig, type PosternConfig } from './config/config';
import { applyReload, liveConfig } from './config/config-reload';
import { settingsFromArgv } from './config/flags';
import { consoleLogger, logSink, setLogLevel } from './logging';
import { TlsService } from './wire/tls.service';
import { WireServer } from './wire/wire.server';

type Settings = Readonly<Record<string, string | undefined>>;

/**
 * Runs the gateway. `flags` are settings from the command line (`postern start --port ...`),
 * under their environment names; they win over the environment and the configuration file.
 */
export async function runGateway(flags: Settings = {}): Promise<void> {
  const read = () => loadConfig(process.env, process.cwd(), flags);
  const config = liveConfig(startupConfig(read));
  lockDataDir(config.dataDir);
  const logger = consoleLogger(config.logLevel);
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forConfig(config), {
    logger,
    // JSON only: Nest's default would also parse HTML forms.
    bodyParser: false,
    // Credentials are installed by TlsService below, before the listener opens.
    ...(config.httpTls ? { httpsOptions: {} } : {}),
  });
  // Bodies are JSON (415 otherwise) up to 1 MiB (413 beyond), nested at most 512 deep (400).
  app.use(rejectNonJsonBodies);
  app.useBodyParser('json', { limit: '1mb', verify: verifyJsonBody });
  stopOnSignals(app);
  reloadOnSighup(config, read);
  app.getHttpAdapter().getInstance().disable('x-powered-by');
  mountOpenApi(app);
  serveConsole(app);
  await app.init();
  if (config.httpTls)
    await app.get(TlsService).serveHttps(app.getHttpServer() as unknown as TlsServer);
  const http = await app.listen(config.httpPort, config.httpHost);
  const ports = {
    wire: app.get(WireServer).port,
    http: (http.address() as AddressInfo).port,
  };
  process.stdout.write(banner(config, ports, app.get(BootstrapService).outcome) + '\n');
}

/** A bad setting stops the start: one line per problem, exit status 2. */
function startupConfig(read: () => PosternConfig): PosternConfig {
  try {
    return read();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    for (const problem of err.problems) process.stderr.write(`postern: ${problem}\n`);
    process.exit(2);
  }
}

/**
 * SIGHUP reads the settings again (the file may have changed) and installs what can change
 * while running, in one line saying what it did. A configuration that became invalid is
 * reported and ignored: the gateway keeps running as it was. (TlsService reloads the
 * certificate on the same signal.)
 */
function reloadOnSighup(config: PosternConfig, read: () => PosternConfig): void {
  const log = logSink('Config');
  process.on('SIGHUP', () => {
    let next: PosternConfig;
    try {
      next = read();
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      log.warn(
        `SIGHUP: settings not reloaded, keeping the current ones: ${err.problems.join('; ')}`,
      );
      return;
    }
    const { reloaded, needsRestart } = applyReload(config, next);
    // Nest's own lines go through the same pino logger: one level for both.
    if (reloaded.includes('logLevel')) setLogLevel(config.logLevel);
    const parts = [
      reloaded.length > 0 ? `reloaded ${reloaded.join(', ')}` : 'no setting changed',
      ...(needsRestart.length > 0 ? [`needs a restart: ${needsRestart.join(', ')}`] : []),
    ];
    // Written at warn so that it shows whatever the level (it may just have been lowered).
    log.warn(`SIGHUP: ${parts.join('; ')}`);
  });
}

/**
 * SIGINT/SIGTERM stop listeners, sessions and PostgreSQL in order, then exit
 * 0; a second signal forces the exit. (Nest's own shutdown hooks re-raise the
 * signal, so a clean stop would look like a kill to supervisors.)
 */
function stopOnSignals(app: INestApplication): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      process.stderr.write(`postern: ${signal} again, exiting now\n`);
      process.exit(1);
    }
    stopping = true;
    app.close().then(
      () => process.exit(0),
      (err: Error) => {
        process.stderr.write(`postern: shutdown failed: ${err.message}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

/**
 * Runs the gateway and exits when it cannot start: status 3 with one line when the data
 * directory is in use, 1 with the details for anything unexpected.
 */
export function startGateway(flags: Settings = {}): void {
  runGateway(flags).catch((err: unknown) => {
    if (err instanceof DataDirInUse) {
      process.stderr.write(`postern: ${err.message}\n`);
      process.exit(3);
    }
    const details = err instanceof Error ? (err.stack ?? err.message) : String(err);
    process.stderr.write(`postern: failed to start: ${details}\n`);
    process.exit(1);
  });
}

/** Run directly (`node main.js`, `npm start -- --port 6000`): flags from argv. */
if (require.main === module) {
  let flags: Settings;
  try {
    flags = settingsFromArgv(process.argv.slice(2));
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`postern: ${err.message}\n`);
    process.exit(2);
  }
  startGateway(flags);
}
