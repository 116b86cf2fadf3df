/**
 * OpenLDAP's command-line tools (ldap-utils): finding them (and slapd) on PATH or in the sbin
 * directories Debian puts them in, and the directory changes tests make through them, as the
 * directory manager, the way an administrator would.
 */
import { execFile } from 'node:child_process';
import { LDAP_ADMIN_DN, LDAP_ADMIN_PASSWORD, userDn } from './ldap-seed';
import { findExecutable } from './server-binary';

export function findBinary(name: string): string | undefined {
  return findExecutable(name, ['/usr/sbin', '/usr/local/sbin']);
}

/** ldapmodify, ldapadd and ldappasswd against `url`, each bounded to 10 s. */
export function tools(url: string) {
  const run = (cmd: string, args: string[], input?: string) =>
    new Promise<void>((resolve, reject) => {
      const child = execFile(findBinary(cmd) ?? cmd, args, { timeout: 10_000 }, (err, _stdout, stderr) =>
        err ? reject(new Error(`${cmd} failed: ${stderr.trim() || err.message}`)) : resolve(),
      );
      if (input !== undefined) child.stdin?.end(input);
    });
  const auth = ['-x', '-H', url, '-D', LDAP_ADMIN_DN, '-w', LDAP_ADMIN_PASSWORD];
  return {
    modify: (ldif: string) => run('ldapmodify', [...auth], ldif),
    add: (ldif: string) => run('ldapadd', [...auth], ldif),
    passwd: (uid: string, password: string) => run('ldappasswd', [...auth, '-s', password, userDn(uid)]),
  };
}
