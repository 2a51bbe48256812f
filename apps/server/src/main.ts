#!/usr/bin/env node
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { AddressInfo } from 'node:net';
import { AppModule } from './app.module';
import { banner } from './banner';
import { BootstrapService } from './bootstrap/bootstrap.service';
import { ConfigError, loadConfig, type PosternConfig } from './config/config';
import { nestLogLevels } from './logging';
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
  const app = await NestFactory.create(AppModule.forConfig(config), {
    logger: nestLogLevels(config.logLevel),
    bodyParser: true,
  });
  app.enableShutdownHooks(['SIGINT', 'SIGTERM']);
  app.getHttpAdapter().getInstance().disable('x-powered-by');
  const http = await app.listen(config.httpPort, config.host);
  const ports = {
    wire: app.get(WireServer).port,
    http: (http.address() as AddressInfo).port,
  };
  process.stdout.write(banner(config, ports, app.get(BootstrapService).outcome) + '\n');
}

main().catch((err: Error) => {
  process.stderr.write(`postern: failed to start: ${err.stack ?? err.message}\n`);
  process.exit(1);
});
