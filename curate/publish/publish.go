package publish

import (
	"context"

	"github.com/clipfs/clipfs/index"
)

// Update brings what is published at the root of the tree up to date after
// commits: it seals the open shard if seal is set, fills in the md5 of
// sealed shards, and rewrites index.parquet when changed says clips were
// committed since the last Update, a shard sealed, or the table is missing.
// It returns whether a shard sealed, and every step's failure (the steps
// after a failed one still run).
func Update(ctx context.Context, db *index.DB, seal, changed bool) (sealed bool, errs []error) {
	if seal {
		var err error
		if sealed, err = db.SealOpenShard(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := FillShardMD5s(ctx, db); err != nil {
		errs = append(errs, err)
	}
	if sealed || changed || !db.HasRootFile(index.ClipTableName) {
		if err := WriteClipTable(ctx, db); err != nil {
			errs = append(errs, err)
		}
	}
	return sealed, errs
}
