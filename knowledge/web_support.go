package knowledge

import (
	"context"

	"github.com/loopdesk/loopdesk/accounts"
)

// maxCategories bounds the category list of the web pages' filter.
const maxCategories = 200

// Categories lists the distinct non-empty categories of the articles actor
// may list, sorted (at most 200): staff see those of working copies,
// anyone else those of the published revisions they may read (requesters:
// public ones), so a reader's filter never names a draft's category. The
// web pages offer them as the list's category filter.
func (s *Service) Categories(ctx context.Context, actor accounts.User) ([]string, error) {
	if err := need(actor, accounts.PermArticlesRead); err != nil {
		return nil, err
	}
	col := "a.category"
	if !seesDrafts(actor) {
		col = "r.category"
	}
	out := []string{}
	err := s.filterQuery(s.conn(ctx), actor, Filter{}).Where(col+" <> ?", "").
		Distinct(col).Order(col).Limit(maxCategories).Pluck(col, &out).Error
	return out, err
}
