import { Option, type Command } from 'commander';
import { api, out, program, run } from '../context';
import { readPassword } from '../password-input';

/** Users, organisations and memberships. */
export function registerPeopleCommands(): void {
  const entityColumns = {
    slug: (e: { slug: string }) => e.slug,
    kind: (e: { kind: string }) => e.kind,
    siteAdmin: (e: { isSiteAdmin: boolean }) => e.isSiteAdmin,
    disabled: (e: { disabled: boolean }) => e.disabled,
    created: (e: { createdAt: string }) => e.createdAt,
  };

  function entityCommands(name: string, kind: 'user' | 'organization', noun: string): Command {
    const group = program
      .command(name)
      .description(`${noun}s: create, list, disable, enable, delete`);
    const create = group.command('create <slug>').description(`create a ${noun}`);
    if (kind === 'user') {
      create.option('--no-password', 'no password: the user logs in with API tokens only');
    }
    create.action(
      run(async (slug: string, options: { password?: boolean }) => {
        const password =
          kind === 'user' && options.password !== false
            ? await readPassword(`Password for ${slug}: `)
            : null;
        out().record(await (await api()).createEntity(kind, slug, password));
      }),
    );
    group
      .command('list')
      .description(`${noun}s you can see`)
      .action(
        run(async () => {
          const all = await (await api()).listEntities();
          out().table(
            all.filter((e) => e.kind === kind),
            entityColumns,
          );
        }),
      );
    group
      .command('disable <slug>')
      .description('no logins, tokens stop, open sessions end, its databases are suspended')
      .action(
        run(async (slug: string) => out().record(await (await api()).setDisabled(slug, true))),
      );
    group
      .command('enable <slug>')
      .description(`enable a disabled ${noun} again`)
      .action(
        run(async (slug: string) => out().record(await (await api()).setDisabled(slug, false))),
      );
    group
      .command('delete <slug>')
      .description('delete, with its tokens, memberships, grants and sessions')
      .option(
        '--reassign-to <slug>',
        'who becomes the owner of its databases (else refused while it owns any)',
      )
      .action(
        run(async (slug: string, options: { reassignTo?: string }) => {
          await (await api()).deleteEntity(slug, options.reassignTo ?? null);
          out().done(`deleted ${slug}`, { deleted: slug });
        }),
      );
    return group;
  }

  entityCommands('users', 'user', 'user')
    .command('set-password <slug>')
    .description("change a user's password (yours, or anyone's as a site admin)")
    .action(
      run(async (slug: string) => {
        await (await api()).setPassword(slug, await readPassword(`New password for ${slug}: `));
        out().done(`password of ${slug} changed`);
      }),
    );
  entityCommands('orgs', 'organization', 'organization');

  const members = program.command('members').description('members of an organization');
  members.command('list <org>').action(
    run(async (org: string) => {
      const detail = await (await api()).getEntity(org);
      out().table(detail.members ?? [], { user: (m) => m.user, role: (m) => m.role });
    }),
  );
  members
    .command('add <org> <user>')
    .description('add a member, or change its role')
    .addOption(
      new Option('--role <role>', 'member or admin').choices(['member', 'admin']).default('member'),
    )
    .action(
      run(async (org: string, user: string, options: { role: 'member' | 'admin' }) => {
        out().record(await (await api()).putMember(org, user, options.role));
      }),
    );
  members.command('remove <org> <user>').action(
    run(async (org: string, user: string) => {
      await (await api()).removeMember(org, user);
      out().done(`${user} removed from ${org}`);
    }),
  );
}
