package knowledge

import (
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/loopdesk/loopdesk/tickets"
)

// faqMetrics computes Report.FAQ for [from, to) (see FAQMetrics).
func (s *Service) faqMetrics(ctx context.Context, from, to time.Time) (*FAQMetrics, error) {
	db := s.conn(ctx)
	out := &FAQMetrics{}
	var n int64
	if err := db.Model(&proposalRow{}).Where("created_at >= ? AND created_at < ?", from, to).Count(&n).Error; err != nil {
		return nil, fmt.Errorf("knowledge report: FAQ proposals: %w", err)
	}
	out.Created = int(n)
	if err := db.Model(&proposalRow{}).Where("status = ?", ProposalOpen).Count(&n).Error; err != nil {
		return nil, fmt.Errorf("knowledge report: FAQ proposals: %w", err)
	}
	out.Open = int(n)
	var decided []struct {
		Status    string
		CreatedAt time.Time
		DecidedAt time.Time
	}
	if err := db.Model(&proposalRow{}).Select("status", "created_at", "decided_at").
		Where("decided_at >= ? AND decided_at < ?", from, to).Scan(&decided).Error; err != nil {
		return nil, fmt.Errorf("knowledge report: FAQ decisions: %w", err)
	}
	var secs []float64
	for _, d := range decided {
		switch d.Status {
		case ProposalApproved:
			out.Approved++
		case ProposalRejected:
			out.Rejected++
		case ProposalAttached:
			out.Attached++
		case ProposalMerged:
			out.Merged++
			continue
		default:
			continue
		}
		secs = append(secs, math.Max(0, d.DecidedAt.Sub(d.CreatedAt).Seconds()))
	}
	if len(secs) > 0 {
		slices.Sort(secs)
		var med float64
		if k := len(secs); k%2 == 1 {
			med = secs[k/2]
		} else {
			med = (secs[k/2-1] + secs[k/2]) / 2
		}
		var sum float64
		for _, x := range secs {
			sum += x
		}
		mean := math.Round(100*sum/float64(len(secs))) / 100
		med = math.Round(100*med) / 100
		out.DecisionMedianSeconds, out.DecisionMeanSeconds = &med, &mean
	}
	if err := db.Raw(`SELECT COUNT(DISTINCT t.id) FROM tickets t
JOIN ticket_article_links l ON l.ticket_id = t.id
JOIN faq_proposals p ON p.article_id = l.article_id AND p.status = ?
JOIN articles a ON a.id = l.article_id
WHERE t.resolved_at >= ? AND t.resolved_at < ? AND l.kind IN ? AND t.resolved_at >= a.created_at
  AND NOT EXISTS (SELECT 1 FROM faq_proposal_members m WHERE m.proposal_id = p.id AND m.ticket_id = t.id)`,
		ProposalApproved, from, to, []string{tickets.LinkSolvedBy, tickets.LinkReferenced}).Scan(&n).Error; err != nil {
		return nil, fmt.Errorf("knowledge report: FAQ articles: %w", err)
	}
	out.ResolvedWithFAQArticles = int(n)
	if err := db.Model(&coverageRow{}).Where("created_at >= ? AND created_at < ?", from, to).Count(&n).Error; err != nil {
		return nil, fmt.Errorf("knowledge report: FAQ coverage: %w", err)
	}
	out.RepeatsOfCoveredIssues = int(n)
	return out, nil
}
