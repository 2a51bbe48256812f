#!/usr/bin/env node
import 'reflect-metadata';
import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { AddressInfo } from 'node:net';
import { rejectNonJsonBodies, verifyJsonBody } from './admin/common/json-body';
import { mountOpenApi } from './admin/openapi';
import { AppModule } from './app.module';
import { banner } from './banner';
import { BootstrapService } from './bootstrap/bootstrap.service';
import { ConfigError, loadConfig, type PosternConfig } from './config/config';
import { consoleLogger } from './logging';
import { WireServer } from './wire/wire.server';

async function main(): Promise<void> {
  let config: PosternConfig;
  try {
    config = loadConfig();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`postern: ${err.message}\n`);
    process.exit(2);
  }
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forConfig(config), {
    logger: consoleLogger(config.logLevel),
    // JSON only: Nest's default would also parse HTML forms.
    bodyParser: false,
  });
  // Bodies are JSON (415 otherwise) up to 1 MiB (413 beyond), nested at most 512 deep (400).
  app.use(rejectNonJsonBodies);
  app.useBodyParser('json', { limit: '1mb', verify: verifyJsonBody });
  stopOnSignals(app);
  app.getHttpAdapter().getInstance().disable('x-powered-by');
  mountOpenApi(app);
  const http = await app.listen(config.httpPort, config.host);
  const ports = {
    wire: app.get(WireServer).port,
    http: (http.address() as AddressInfo).port,
  };
  process.stdout.write(banner(config, ports, app.get(BootstrapService).outcome) + '\n');
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

main().catch((err: Error) => {
  process.stderr.write(`postern: failed to start: ${err.stack ?? err.message}\n`);
  process.exit(1);
});
