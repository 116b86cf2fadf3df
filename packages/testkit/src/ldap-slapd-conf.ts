/**
 * slapd's generated configuration: a slapd.conf for an mdb database under a temp dir (schemas and
 * modules from wherever the distribution installed them); TLS material from certificates.ts.
 */
import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';
import { LDAP_ADMIN_DN, LDAP_ADMIN_PASSWORD, LDAP_SUFFIX } from './ldap-seed';

const MODULE_DIRS = ['/usr/lib/ldap', '/usr/lib/x86_64-linux-gnu/ldap', '/usr/lib/aarch64-linux-gnu/ldap', '/usr/lib64/openldap', '/usr/libexec/openldap'];
const SCHEMA_DIRS = ['/etc/ldap/schema', '/etc/openldap/schema', '/usr/local/etc/openldap/schema'];

function firstExisting(dirs: string[], file: string): string | undefined {
  for (const d of dirs) {
    try {
      accessSync(join(d, file), constants.R_OK);
      return d;
    } catch {
      // next
    }
  }
  return undefined;
}

export function slapdConf(dir: string, tls?: { ca: string; cert: string; key: string }): string {
  const schema = firstExisting(SCHEMA_DIRS, 'core.schema');
  if (!schema) throw new Error(`slapd: no OpenLDAP schema directory found (looked in ${SCHEMA_DIRS.join(', ')})`);
  const modules = firstExisting(MODULE_DIRS, 'back_mdb.so') ?? firstExisting(MODULE_DIRS, 'memberof.so');
  const load = modules
    ? `modulepath ${modules}\n${['back_mdb', 'memberof', 'ppolicy'].filter((m) => firstExisting([modules], `${m}.so`)).map((m) => `moduleload ${m}`).join('\n')}\n`
    : '';
  return `${['core', 'cosine', 'inetorgperson', 'nis'].map((s) => `include ${schema}/${s}.schema`).join('\n')}
${load}${tls ? `TLSCACertificateFile ${tls.ca}\nTLSCertificateFile ${tls.cert}\nTLSCertificateKeyFile ${tls.key}\n` : ''}# A DN with an empty password binds (unauthenticated bind), as on many servers: the trap the store must avoid.
allow bind_anon_dn
pidfile ${dir}/slapd.pid
argsfile ${dir}/slapd.args

database mdb
maxsize 67108864
suffix "${LDAP_SUFFIX}"
rootdn "${LDAP_ADMIN_DN}"
rootpw ${LDAP_ADMIN_PASSWORD}
directory ${dir}/data
index objectClass eq
index uid,cn,member eq
overlay memberof
memberof-refint TRUE
overlay ppolicy
access to attrs=userPassword by self write by anonymous auth by * none
access to * by users read by anonymous auth
`;
}
