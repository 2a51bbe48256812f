import { ApiClient } from '../api-client';
import { out, program, run, url } from '../context';
import { forgetSession, storeSession } from '../credentials';
import { readPassword } from '../password-input';

/** `login` and `logout`: the session the other commands use. */
export function registerLoginCommands(): void {
  program
    .command('login')
    .description('log in and keep the session token (0600, under your config directory)')
    .option('-u, --user <name>', 'user name', 'admin')
    .action(
      run(async (options: { user: string }) => {
        const password = await readPassword(`Password for ${options.user}: `);
        const session = await new ApiClient(url(), null).login(options.user, password);
        const file = await storeSession(url(), { user: options.user, ...session });
        out().done(
          `logged in to ${url()} as ${options.user} until ${session.expiresAt} (${file})`,
          {
            user: options.user,
            expiresAt: session.expiresAt,
          },
        );
      }),
    );

  program
    .command('logout')
    .description('end the stored session, on the server and here')
    .action(
      run(async () => {
        const token = await forgetSession(url());
        if (token) await new ApiClient(url(), token).logout().catch(() => undefined);
        out().done(token ? `logged out of ${url()}` : `no session stored for ${url()}`);
      }),
    );
}
