-- Facts about the database as a whole. 'issuer' binds it to the one issuer
-- whose records it holds: tokens of two issuers in one table would be
-- accepted by both.
CREATE TABLE oidc_provider_meta (
    key   text PRIMARY KEY,
    value text NOT NULL
);
