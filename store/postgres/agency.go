package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/govchannels/channels"
)

const (
	agencyColumns    = `id, name, webhook_url, webhook_secret, created_at, api_url`
	agencyKeyColumns = `id, agency, hash, created_at, revoked_at`
)

func scanAgency(row pgx.Row) (channels.Agency, error) {
	var a channels.Agency
	err := row.Scan(&a.ID, &a.Name, &a.WebhookURL, &a.WebhookSecret, &a.CreatedAt, &a.APIURL)
	a.CreatedAt = fromDB(a.CreatedAt)
	return a, err
}

func scanAgencyKey(row pgx.Row) (channels.AgencyKey, error) {
	var k channels.AgencyKey
	err := row.Scan(&k.ID, &k.Agency, &k.Hash, &k.CreatedAt, &k.RevokedAt)
	k.CreatedAt, k.RevokedAt = fromDB(k.CreatedAt), fromDB(k.RevokedAt)
	return k, err
}

// PutAgency creates or replaces the agency a.ID.
func (d *DB) PutAgency(ctx context.Context, a channels.Agency) error {
	_, err := d.pool.Exec(ctx, `INSERT INTO agencies (`+agencyColumns+`) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, webhook_url = EXCLUDED.webhook_url,
			webhook_secret = EXCLUDED.webhook_secret, created_at = EXCLUDED.created_at, api_url = EXCLUDED.api_url`,
		a.ID, a.Name, a.WebhookURL, nullBytes(a.WebhookSecret), micro(a.CreatedAt), a.APIURL)
	return wrap(err, "put agency %s", a.ID)
}

// Agency returns the agency id.
func (d *DB) Agency(ctx context.Context, id string) (*channels.Agency, error) {
	a, err := scanAgency(d.pool.QueryRow(ctx, `SELECT `+agencyColumns+` FROM agencies WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound("agency " + id)
	}
	if err != nil {
		return nil, wrap(err, "agency %s", id)
	}
	return &a, nil
}

// Agencies returns every agency, by ID.
func (d *DB) Agencies(ctx context.Context) ([]channels.Agency, error) {
	rows, err := d.pool.Query(ctx, `SELECT `+agencyColumns+` FROM agencies ORDER BY id`)
	if err != nil {
		return nil, wrap(err, "agencies")
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (channels.Agency, error) { return scanAgency(row) })
	return out, wrap(err, "agencies")
}

// PutAgencyKey creates or replaces the key k.ID.
func (d *DB) PutAgencyKey(ctx context.Context, k channels.AgencyKey) error {
	_, err := d.pool.Exec(ctx, `INSERT INTO agency_keys (`+agencyKeyColumns+`) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (id) DO UPDATE SET agency = EXCLUDED.agency, hash = EXCLUDED.hash, created_at = EXCLUDED.created_at,
			revoked_at = EXCLUDED.revoked_at`,
		k.ID, k.Agency, nullBytes(k.Hash), micro(k.CreatedAt), micro(k.RevokedAt))
	return wrap(err, "put agency key %s", k.ID)
}

// AgencyKey returns the key id.
func (d *DB) AgencyKey(ctx context.Context, id string) (*channels.AgencyKey, error) {
	k, err := scanAgencyKey(d.pool.QueryRow(ctx, `SELECT `+agencyKeyColumns+` FROM agency_keys WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound("agency key " + id)
	}
	if err != nil {
		return nil, wrap(err, "agency key %s", id)
	}
	return &k, nil
}

// AgencyKeys returns the keys of agency, revoked ones included, by ID.
func (d *DB) AgencyKeys(ctx context.Context, agency string) ([]channels.AgencyKey, error) {
	rows, err := d.pool.Query(ctx, `SELECT `+agencyKeyColumns+` FROM agency_keys WHERE agency = $1 ORDER BY id`, agency)
	if err != nil {
		return nil, wrap(err, "keys of agency %s", agency)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (channels.AgencyKey, error) { return scanAgencyKey(row) })
	return out, wrap(err, "keys of agency %s", agency)
}
