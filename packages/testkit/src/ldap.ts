/** slapd for one suite (placeholder until the LDAP backend's fixtures land). */
export {};
