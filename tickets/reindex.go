package tickets

import (
	"context"

	"gorm.io/gorm"
)

// ReindexAll rebuilds the search document of every ticket in batches, one
// transaction per batch, and returns how many it indexed. Used by
// `loopdesk search reindex` after a tokenizer change or a restore.
func (s *Service) ReindexAll(ctx context.Context) (int, error) {
	var after int64
	n := 0
	for {
		var rows []ticketRow
		if err := s.conn(ctx).Where("id > ?", after).Order("id").Limit(500).Find(&rows).Error; err != nil {
			return n, err
		}
		if len(rows) == 0 {
			return n, nil
		}
		err := s.conn(ctx).Transaction(func(tx *gorm.DB) error {
			for _, r := range rows {
				if err := s.reindex(ctx, tx, r); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return n, err
		}
		n += len(rows)
		after = rows[len(rows)-1].ID
	}
}
