#!/usr/bin/env node
import { registerActivityCommands } from './commands/activity';
import { registerDatabaseCommands } from './commands/databases';
import { registerGatewayCommands } from './commands/gateway';
import { registerLoginCommands } from './commands/login';
import { registerPeopleCommands } from './commands/people';
import { program } from './context';

/** `postern`: the commands in the order `--help` lists them. */
registerGatewayCommands();
registerLoginCommands();
registerPeopleCommands();
registerDatabaseCommands();
registerActivityCommands();

program.parseAsync().catch((err: Error) => {
  process.stderr.write(`postern: ${err.message}\n`);
  process.exitCode = 1;
});
