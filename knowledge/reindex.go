package knowledge

import (
	"context"

	"gorm.io/gorm"
)

// ReindexAll rebuilds both search documents of every article (the staff
// document and, for published articles, the readers' one) in batches, one
// transaction per batch. It returns how many articles it indexed. Used by
// `loopdesk search reindex` after a tokenizer change or a restore.
func (s *Service) ReindexAll(ctx context.Context) (int, error) {
	var after int64
	n := 0
	for {
		var rows []articleRow
		if err := s.db.WithContext(ctx).Where("id > ?", after).Order("id").Limit(200).Find(&rows).Error; err != nil {
			return n, err
		}
		if len(rows) == 0 {
			return n, nil
		}
		err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			for _, r := range rows {
				if err := s.reindex(ctx, tx, r); err != nil {
					return err
				}
				if r.PublishedRevisionID == nil {
					if err := s.index.Delete(ctx, tx, DocTypePublished, r.ID); err != nil {
						return err
					}
					continue
				}
				rev, err := s.revision(ctx, tx, *r.PublishedRevisionID)
				if err != nil {
					return err
				}
				if err := s.index.Put(ctx, tx, DocTypePublished, r.ID, contentFields(revContent(rev))...); err != nil {
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
