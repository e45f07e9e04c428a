package tickets

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"

	"gorm.io/gorm"

	"github.com/loopdesk/loopdesk/accounts"
	"github.com/loopdesk/loopdesk/internal/database"
	"github.com/loopdesk/loopdesk/internal/outbox"
	"github.com/loopdesk/loopdesk/workflow"
)

// ArticleWorkflow is the workflow key reserved for knowledge articles;
// tickets may not use it.
const ArticleWorkflow = "article"

// DefaultType is the workflow of a ticket created without a type.
const DefaultType = "support"

// validateOptions names the roles and permissions guards may use.
func validateOptions() workflow.ValidateOptions {
	perms := make([]string, len(accounts.AllPermissions))
	for i, p := range accounts.AllPermissions {
		perms[i] = string(p)
	}
	return workflow.ValidateOptions{Roles: roleNames(accounts.Roles), Permissions: perms}
}

// WorkflowPublishedEvent is the payload of workflow:published.
type WorkflowPublishedEvent struct {
	Key     string `json:"key"`
	Version int    `json:"version"`
	Actor   *int64 `json:"actor"`
}

// EnsureBuiltinWorkflows publishes workflow.Builtin() definitions whose key
// has no version yet. Safe to call from several replicas at start: the
// primary key (key, version) lets one insert win and the others skip.
func (s *Service) EnsureBuiltinWorkflows(ctx context.Context) error {
	for _, def := range workflow.Builtin() {
		var n int64
		if err := s.conn(ctx).Model(&workflowRow{}).Where("`key` = ?", def.Key).Count(&n).Error; err != nil {
			return err
		}
		if n > 0 {
			continue
		}
		_, err := s.publish(ctx, nil, def, true)
		if err != nil && !errors.Is(err, errBuiltinTaken) {
			return fmt.Errorf("builtin workflow %s: %w", def.Key, err)
		}
	}
	return nil
}

var errBuiltinTaken = errors.New("tickets: builtin workflow already published")

// PublishWorkflow validates def and stores it as the next version of its
// key. It needs workflows:write. An invalid definition is a
// *workflow.ValidationError listing every problem.
func (s *Service) PublishWorkflow(ctx context.Context, actor accounts.User, def *workflow.Definition) (*workflow.Definition, error) {
	if !actor.Can(accounts.PermWorkflowsWrite) {
		return nil, &ForbiddenError{Permission: string(accounts.PermWorkflowsWrite)}
	}
	by := actor.ID
	return s.publish(ctx, &by, def, false)
}

func (s *Service) publish(ctx context.Context, by *int64, def *workflow.Definition, onlyFirst bool) (*workflow.Definition, error) {
	if err := def.Validate(validateOptions()); err != nil {
		return nil, err
	}
	if err := s.checkActionDepartments(ctx, def); err != nil {
		return nil, err
	}
	d, err := cloneDefinition(def)
	if err != nil {
		return nil, err
	}
	err = s.inTx(ctx, func(tx *gorm.DB) error {
		var latest int
		if err := tx.Model(&workflowRow{}).Where("`key` = ?", d.Key).Select("COALESCE(MAX(version), 0)").Scan(&latest).Error; err != nil {
			return err
		}
		if onlyFirst && latest > 0 {
			return errBuiltinTaken
		}
		d.Version = latest + 1
		body, err := json.Marshal(d)
		if err != nil {
			return err
		}
		row := workflowRow{Key: d.Key, Version: d.Version, Name: d.Name, Definition: string(body), CreatedBy: by, CreatedAt: s.clock()}
		if err := tx.Create(&row).Error; err != nil {
			if database.IsUniqueViolation(err) {
				if onlyFirst {
					return errBuiltinTaken
				}
				return errRetry // someone else took this version: read the latest again
			}
			return err
		}
		return outbox.Write(ctx, tx, outbox.Event{Type: EventWorkflowPublished, AggregateType: "workflow",
			AggregateID: d.Key + "@" + strconv.Itoa(d.Version), Payload: WorkflowPublishedEvent{Key: d.Key, Version: d.Version, Actor: by}})
	})
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.defs[defKey{d.Key, d.Version}] = d
	s.latest[d.Key] = latestVersion{version: d.Version, at: time.Now()}
	s.mu.Unlock()
	out, err := cloneDefinition(d)
	return out, err
}

// checkActionDepartments reports assign_department actions naming unknown
// departments, as workflow problems.
func (s *Service) checkActionDepartments(ctx context.Context, def *workflow.Definition) error {
	var ids []int64
	for _, ev := range def.Events {
		for _, a := range ev.Actions {
			if a.Type == workflow.ActionAssignDepartment && a.DepartmentID > 0 {
				ids = append(ids, a.DepartmentID)
			}
		}
	}
	if len(ids) == 0 {
		return nil
	}
	var found []int64
	if err := s.conn(ctx).Table("departments").Where("id IN ?", ids).Pluck("id", &found).Error; err != nil {
		return err
	}
	have := map[int64]bool{}
	for _, id := range found {
		have[id] = true
	}
	ve := &workflow.ValidationError{}
	for i, ev := range def.Events {
		for k, a := range ev.Actions {
			if a.Type == workflow.ActionAssignDepartment && a.DepartmentID > 0 && !have[a.DepartmentID] {
				ve.Problems = append(ve.Problems, workflow.Problem{Path: fmt.Sprintf("events[%d].actions[%d].department_id", i, k),
					Message: fmt.Sprintf("names unknown department %d", a.DepartmentID)})
			}
		}
	}
	if len(ve.Problems) > 0 {
		return ve
	}
	return nil
}

func cloneDefinition(d *workflow.Definition) (*workflow.Definition, error) {
	b, err := json.Marshal(d)
	if err != nil {
		return nil, err
	}
	var out workflow.Definition
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetWorkflow returns a version of key; version 0 means the latest.
func (s *Service) GetWorkflow(ctx context.Context, key string, version int) (*workflow.Definition, error) {
	if version == 0 {
		v, err := s.latestVersion(ctx, s.conn(ctx), key, true)
		if err != nil {
			return nil, err
		}
		version = v
	}
	d, err := s.definition(ctx, s.conn(ctx), key, version)
	if err != nil {
		return nil, err
	}
	return cloneDefinition(d)
}

// definition returns the cached, shared (read-only) definition key@version.
func (s *Service) definition(ctx context.Context, db *gorm.DB, key string, version int) (*workflow.Definition, error) {
	s.mu.RLock()
	d, ok := s.defs[defKey{key, version}]
	s.mu.RUnlock()
	if ok {
		return d, nil
	}
	var row workflowRow
	if err := db.WithContext(ctx).Where("`key` = ? AND version = ?", key, version).Take(&row).Error; err != nil {
		return nil, notFound(err)
	}
	d, err := workflow.Parse([]byte(row.Definition))
	if err != nil {
		return nil, fmt.Errorf("stored workflow %s@%d: %w", key, version, err)
	}
	d.Version = version
	s.mu.Lock()
	s.defs[defKey{key, version}] = d
	s.mu.Unlock()
	return d, nil
}

// latestVersion returns the newest version of key (ErrNotFound if none).
// fresh skips the short-lived cache.
func (s *Service) latestVersion(ctx context.Context, db *gorm.DB, key string, fresh bool) (int, error) {
	if !fresh {
		s.mu.RLock()
		lv, ok := s.latest[key]
		s.mu.RUnlock()
		if ok && time.Since(lv.at) < latestTTL {
			return lv.version, nil
		}
	}
	var v int
	if err := db.WithContext(ctx).Model(&workflowRow{}).Where("`key` = ?", key).Select("COALESCE(MAX(version), 0)").Scan(&v).Error; err != nil {
		return 0, err
	}
	if v == 0 {
		return 0, accounts.ErrNotFound
	}
	s.mu.Lock()
	if cur, ok := s.latest[key]; !ok || cur.version <= v {
		s.latest[key] = latestVersion{version: v, at: time.Now()}
	}
	s.mu.Unlock()
	return v, nil
}

// ListWorkflows lists every key with its latest version, by key.
func (s *Service) ListWorkflows(ctx context.Context) ([]WorkflowSummary, error) {
	var rows []workflowRow
	err := s.conn(ctx).Model(&workflowRow{}).Select("`key`, version, name, created_at").
		Where("version = (SELECT MAX(w2.version) FROM workflow_definitions w2 WHERE w2.`key` = workflow_definitions.`key`)").
		Order("`key`").Find(&rows).Error
	if err != nil {
		return nil, err
	}
	out := make([]WorkflowSummary, len(rows))
	for i, r := range rows {
		out[i] = WorkflowSummary{Key: r.Key, Name: r.Name, LatestVersion: r.Version, PublishedAt: r.CreatedAt.UTC()}
	}
	return out, nil
}

// MigrateTickets moves open tickets of key@fromVersion to toVersion, mapping
// each state through stateMap (every state in use must be mapped to a state
// of the target). Returns how many tickets moved; history records each.
// Tickets in a closed-category state stay on their version. It needs
// tickets:migrate (admins hold it).
func (s *Service) MigrateTickets(ctx context.Context, actor accounts.User, key string, fromVersion, toVersion int, stateMap map[string]string) (int, error) {
	if !actor.Can(accounts.PermTicketsMigrate) && !actor.HasRole(accounts.RoleAdmin) {
		return 0, &ForbiddenError{Permission: string(accounts.PermTicketsMigrate)}
	}
	ve := &accounts.ValidationError{}
	if fromVersion == toVersion {
		ve.Add("to_version", "must differ from the version the tickets are on")
	}
	from, err := s.definition(ctx, s.conn(ctx), key, fromVersion)
	if errors.Is(err, accounts.ErrNotFound) {
		ve.Add("from_version", fmt.Sprintf("workflow %s has no version %d", key, fromVersion))
	} else if err != nil {
		return 0, err
	}
	to, err := s.definition(ctx, s.conn(ctx), key, toVersion)
	if errors.Is(err, accounts.ErrNotFound) {
		ve.Add("to_version", fmt.Sprintf("workflow %s has no version %d", key, toVersion))
	} else if err != nil {
		return 0, err
	}
	if err := ve.Err(); err != nil {
		return 0, err
	}
	var inUse []string
	if err := s.conn(ctx).Model(&ticketRow{}).Distinct("status").
		Where("workflow_key = ? AND workflow_version = ? AND status_category <> ?", key, fromVersion, string(workflow.CategoryClosed)).
		Order("status").Pluck("status", &inUse).Error; err != nil {
		return 0, err
	}
	checkStateMap(ve, from, to, inUse, stateMap)
	if err := ve.Err(); err != nil {
		return 0, err
	}

	moved := 0
	var after int64
	for {
		n, last, err := s.migrateBatch(ctx, actor, key, fromVersion, to, stateMap, after)
		if err != nil {
			return moved, err
		}
		moved += n
		if last == 0 {
			return moved, nil
		}
		after = last
	}
}

func checkStateMap(ve *accounts.ValidationError, from, to *workflow.Definition, inUse []string, stateMap map[string]string) {
	for _, st := range inUse {
		target, ok := stateMap[st]
		switch {
		case !ok || target == "":
			ve.Add("state_map."+st, fmt.Sprintf("tickets are in state %q; map it to a state of version %d", st, to.Version))
		default:
			if _, ok := to.State(target); !ok {
				ve.Add("state_map."+st, fmt.Sprintf("version %d has no state %q", to.Version, target))
			}
		}
	}
	keys := make([]string, 0, len(stateMap))
	for k := range stateMap {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if contains(inUse, k) {
			continue // checked above
		}
		if _, ok := from.State(k); !ok {
			ve.Add("state_map."+k, fmt.Sprintf("version %d has no state %q", from.Version, k))
			continue
		}
		if _, ok := to.State(stateMap[k]); !ok {
			ve.Add("state_map."+k, fmt.Sprintf("version %d has no state %q", to.Version, stateMap[k]))
		}
	}
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

const migrateBatchSize = 200

// migrateBatch moves up to migrateBatchSize tickets with id > after in one
// transaction and returns how many moved and the last id seen (0: done).
func (s *Service) migrateBatch(ctx context.Context, actor accounts.User, key string, fromVersion int, to *workflow.Definition, stateMap map[string]string, after int64) (int, int64, error) {
	moved := 0
	var last int64
	err := s.inTx(ctx, func(tx *gorm.DB) error {
		moved, last = 0, 0
		var rows []ticketRow
		err := s.forUpdate(tx).Select("id, status, status_category, version, resolved_at, closed_at").
			Where("workflow_key = ? AND workflow_version = ? AND status_category <> ? AND id > ?", key, fromVersion, string(workflow.CategoryClosed), after).
			Order("id").Limit(migrateBatchSize).Find(&rows).Error
		if err != nil {
			return err
		}
		if len(rows) == 0 {
			return nil
		}
		last = rows[len(rows)-1].ID
		now := s.clock()
		actorID := idPtr(actor.ID)
		var hist []historyRow
		var events []outbox.Event
		for _, r := range rows {
			target, ok := stateMap[r.Status]
			st, found := to.State(target)
			if !ok || !found {
				ve := &accounts.ValidationError{}
				ve.Add("state_map."+r.Status, fmt.Sprintf("ticket %d entered state %q meanwhile; map it to a state of version %d", r.ID, r.Status, to.Version))
				return ve
			}
			set := map[string]any{"workflow_version": to.Version, "status": st.Name, "status_category": string(st.Category), "updated_at": now}
			if st.Name != r.Status {
				set["state_entered_at"] = now
			}
			applyCategoryTimes(set, workflow.Category(r.StatusCategory), st.Category, now)
			if err := versionedUpdate(ctx, tx, r.ID, r.Version, set); err != nil {
				return err
			}
			note := ""
			if st.Name != r.Status {
				note = fmt.Sprintf("state %s -> %s", r.Status, st.Name)
			}
			hist = append(hist, historyRow{TicketID: r.ID, ActorID: actorID, At: now, Kind: KindMigration, Field: "workflow_version",
				FromValue: fmt.Sprintf("%s@%d", key, fromVersion), ToValue: fmt.Sprintf("%s@%d", key, to.Version), Note: note})
			events = append(events, ticketEvent(EventTicketMigrated, r.ID, TicketEvent{ID: r.ID, Changed: []string{"workflow_version", "status"}, Actor: actorID}))
			moved++
		}
		if err := tx.Create(&hist).Error; err != nil {
			return err
		}
		return outbox.Write(ctx, tx, events...)
	})
	return moved, last, err
}

// applyCategoryTimes keeps resolved_at and closed_at in step with a change
// of state category: set on entering resolved/closed, cleared on reopening.
func applyCategoryTimes(set map[string]any, from, to workflow.Category, now time.Time) {
	switch to {
	case workflow.CategoryResolved:
		if from != workflow.CategoryResolved {
			set["resolved_at"] = now
		}
		set["closed_at"] = nil
	case workflow.CategoryClosed:
		if from != workflow.CategoryClosed {
			set["closed_at"] = now
		}
	default:
		set["resolved_at"] = nil
		set["closed_at"] = nil
	}
}
