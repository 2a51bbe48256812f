import { Global, Module } from '@nestjs/common';
import type { PosternConfig } from './config';

/** Injection token of the frozen PosternConfig. */
export const POSTERN_CONFIG = Symbol('POSTERN_CONFIG');

@Global()
@Module({})
export class ConfigModule {
  static forRoot(config: PosternConfig) {
    return {
      module: ConfigModule,
      providers: [{ provide: POSTERN_CONFIG, useValue: config }],
      exports: [POSTERN_CONFIG],
    };
  }
}
