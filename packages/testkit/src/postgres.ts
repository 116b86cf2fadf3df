/** PostgreSQL for one suite (placeholder until the PostgreSQL backend's fixtures land). */
export {};
