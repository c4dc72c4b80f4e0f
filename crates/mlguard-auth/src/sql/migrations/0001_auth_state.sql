-- mlguard's durable authentication state. Written once for SQLite and PostgreSQL.
-- Secrets are never stored: API keys and refresh tokens only as SHA-256 (hex), passwords as
-- Argon2id PHC strings. Times are Unix seconds.

CREATE TABLE mlguard_users (
    username TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    roles TEXT NOT NULL,               -- JSON array of role names
    disabled BOOLEAN NOT NULL DEFAULT FALSE
);

-- The ApiKeyRecord as JSON (key id, name, roles, expiry, revoked, sha256 of the key).
CREATE TABLE mlguard_api_keys (
    key_id TEXT PRIMARY KEY,
    record TEXT NOT NULL
);

CREATE TABLE mlguard_refresh_families (
    family TEXT PRIMARY KEY,
    username TEXT NOT NULL,
    revoked BOOLEAN NOT NULL DEFAULT FALSE,
    expires_at BIGINT NOT NULL         -- the latest expiry of its tokens (for purging)
);

CREATE TABLE mlguard_refresh_tokens (
    token_hash TEXT PRIMARY KEY,
    family TEXT NOT NULL REFERENCES mlguard_refresh_families (family) ON DELETE CASCADE,
    username TEXT NOT NULL,
    scope TEXT,                        -- JSON array, NULL: not narrowed
    expires_at BIGINT NOT NULL,
    used BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX mlguard_refresh_tokens_family ON mlguard_refresh_tokens (family);

-- Access tokens issued in a family: denied when the family is revoked for reuse.
CREATE TABLE mlguard_refresh_access (
    family TEXT NOT NULL REFERENCES mlguard_refresh_families (family) ON DELETE CASCADE,
    jti TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (family, jti)
);

-- The jti denylist.
CREATE TABLE mlguard_revocations (
    jti TEXT PRIMARY KEY,
    deny_until BIGINT NOT NULL
);
