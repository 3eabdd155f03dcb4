//! The lists library API (`todo_core::lists::store`) against a fresh
//! database per test: lists, members, roles and invitations, what each
//! role may do, and every limit under concurrent requests.

use std::sync::Arc;

use native::testing::{TestClock, TestDb, TestVars};
use native::{AllowedHosts, NativeDb, NativeHttp};
use todo_core::auth::{Caller, Email};
use todo_core::lists::store::{self, ListChanges, ListError};
use todo_core::lists::{Color, InvitedRole, List, ListName, Role};
use todo_core::ports::Ctx;
use todo_core::todos::{
    store as todos, DueAt, ListQuery, NewTodo, Recurrence, Status, TodoChanges, TodoTitle,
};
use uuid::Uuid;

struct World {
    test_db: TestDb,
    db: NativeDb,
    http: NativeHttp,
    vars: TestVars,
    clock: TestClock,
}

impl World {
    fn new() -> Self {
        let test_db = TestDb::fresh();
        World {
            db: test_db.db(),
            vars: test_db.vars(),
            test_db,
            http: NativeHttp::new(Arc::new(AllowedHosts::none())),
            clock: TestClock::at("2026-06-01T12:00:00Z"),
        }
    }

    fn ctx(&self) -> Ctx<'_> {
        Ctx::new(&self.db, &self.http, &self.vars, &self.clock)
    }

    fn user(&self, email: &str) -> Caller {
        Caller::user(self.test_db.insert_user(email))
    }

    fn list(&self, owner: &Caller, name: &str) -> List {
        store::create(&self.ctx(), owner, &ListName::parse(name).unwrap(), None).unwrap()
    }

    /// `member` joins `list` with `role`, by invitation.
    fn join(&self, owner: &Caller, list: &List, member: &Caller, email: &str, role: &str) {
        let ctx = self.ctx();
        let sent = store::invite(&ctx, owner, list.id, &email_of(email), invited(role)).unwrap();
        store::accept(&ctx, member, sent.id).unwrap();
        assert_eq!(sent.email, email);
    }

    /// Runs `f` on `n` threads at once, each with a connection of its own.
    fn concurrently<T: Send>(&self, n: usize, f: impl Fn(&Ctx, usize) -> T + Sync) -> Vec<T> {
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..n)
                .map(|i| {
                    let f = &f;
                    s.spawn(move || {
                        let db = self.test_db.db();
                        let ctx = Ctx::new(&db, &self.http, &self.vars, &self.clock);
                        f(&ctx, i)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        })
    }

    fn count(&self, sql: &str) -> i64 {
        self.test_db.client().query_one(sql, &[]).unwrap().get(0)
    }
}

fn email_of(raw: &str) -> Email {
    Email::parse(raw).unwrap()
}

fn invited(role: &str) -> InvitedRole {
    InvitedRole::parse(role).unwrap()
}

fn name(raw: &str) -> ListName {
    ListName::parse(raw).unwrap()
}

fn is_not_found<T: std::fmt::Debug>(result: Result<T, ListError>) -> bool {
    matches!(result, Err(ListError::NotFound))
}

fn is_forbidden<T: std::fmt::Debug>(result: Result<T, ListError>) -> bool {
    matches!(result, Err(ListError::Forbidden { .. }))
}

fn conflict_code<T: std::fmt::Debug>(result: Result<T, ListError>) -> &'static str {
    match result {
        Err(ListError::Conflict { code, .. }) => code,
        other => panic!("expected a conflict, got {other:?}"),
    }
}

#[test]
fn every_account_has_an_inbox_that_holds_its_todos_and_cannot_be_renamed_or_shared() {
    let world = World::new();
    let ctx = world.ctx();
    let ada = world.user("ada@example.com");
    let todo = todos::create(&ctx, &ada, &NewTodo::new(TodoTitle::parse("milk").unwrap())).unwrap();

    let lists = store::all(&ctx, &ada).unwrap();
    assert_eq!(lists.len(), 1);
    let inbox = &lists[0];
    assert_eq!(
        (inbox.name.as_str(), inbox.is_inbox, inbox.role),
        ("Inbox", true, Role::Owner)
    );
    assert_eq!(
        (inbox.owner.id, inbox.member_count, inbox.open_count),
        (ada.user_id, 1, 1)
    );
    let in_inbox = world.count(&format!(
        "SELECT count(*) FROM todos WHERE id = '{}' AND list_id = '{}'",
        todo.id, inbox.id
    ));
    assert_eq!(in_inbox, 1);

    let rename = ListChanges {
        name: Some(name("Stuff")),
        color: None,
    };
    assert_eq!(
        conflict_code(store::update(&ctx, &ada, inbox.id, &rename)),
        "inbox"
    );
    let recolour = ListChanges {
        name: None,
        color: Some(Some(Color::parse("#00AA00").unwrap())),
    };
    let recoloured = store::update(&ctx, &ada, inbox.id, &recolour).unwrap();
    assert_eq!(
        (recoloured.name.as_str(), recoloured.color.as_deref()),
        ("Inbox", Some("#00aa00"))
    );
    world.user("bob@example.com");
    let share = store::invite(
        &ctx,
        &ada,
        inbox.id,
        &email_of("bob@example.com"),
        invited("editor"),
    );
    assert_eq!(conflict_code(share), "inbox");
}

#[test]
fn a_new_list_is_owned_by_its_creator_and_listed_after_the_inbox_by_name() {
    let world = World::new();
    let ctx = world.ctx();
    let ada = world.user("ada@example.com");
    let color = Color::parse("#112233").unwrap();
    let work = store::create(&ctx, &ada, &name(" Work "), Some(&color)).unwrap();
    assert_eq!(
        (work.name.as_str(), work.color.as_deref()),
        ("Work", Some("#112233"))
    );
    assert_eq!(
        (work.role, work.is_inbox, work.owner.id),
        (Role::Owner, false, ada.user_id)
    );
    world.list(&ada, "groceries");
    let names: Vec<String> = store::all(&ctx, &ada)
        .unwrap()
        .into_iter()
        .map(|l| l.name)
        .collect();
    assert_eq!(names, ["Inbox", "groceries", "Work"]);
    assert_eq!(store::get(&ctx, &ada, work.id).unwrap(), work);
}

#[test]
fn someone_who_is_not_a_member_finds_no_list_whatever_they_try() {
    let world = World::new();
    let ctx = world.ctx();
    let ada = world.user("ada@example.com");
    let eve = world.user("eve@example.com");
    let list = world.list(&ada, "Secret");
    let sent = store::invite(
        &ctx,
        &ada,
        list.id,
        &email_of("bob@example.com"),
        invited("viewer"),
    )
    .unwrap();

    assert!(is_not_found(store::get(&ctx, &eve, list.id)));
    assert!(is_not_found(store::members(&ctx, &eve, list.id)));
    let rename = ListChanges {
        name: Some(name("Mine")),
        color: None,
    };
    assert!(is_not_found(store::update(&ctx, &eve, list.id, &rename)));
    let invite = store::invite(
        &ctx,
        &eve,
        list.id,
        &email_of("eve2@example.com"),
        invited("editor"),
    );
    assert!(is_not_found(invite));
    assert!(is_not_found(store::revoke(&ctx, &eve, list.id, sent.id)));
    assert!(is_not_found(store::set_role(
        &ctx,
        &eve,
        list.id,
        ada.user_id,
        Role::Viewer
    )));
    assert!(is_not_found(store::remove_member(
        &ctx,
        &eve,
        list.id,
        ada.user_id
    )));
    // Bob's invitation is Bob's: nobody else may answer it.
    assert!(is_not_found(store::accept(&ctx, &eve, sent.id)));
    assert!(is_not_found(store::decline(&ctx, &eve, sent.id)));
    // A list that does not exist answers the same.
    assert!(is_not_found(store::get(&ctx, &eve, Uuid::new_v4())));
    assert_eq!(store::get(&ctx, &ada, list.id).unwrap().name, "Secret");
}

#[test]
fn only_the_owner_renames_shares_and_manages_members() {
    let world = World::new();
    let ctx = world.ctx();
    let ada = world.user("ada@example.com");
    let bob = world.user("bob@example.com");
    let cy = world.user("cy@example.com");
    let list = world.list(&ada, "Home");
    world.join(&ada, &list, &bob, "bob@example.com", "editor");
    world.join(&ada, &list, &cy, "cy@example.com", "viewer");

    let rename = ListChanges {
        name: Some(name("Bob's")),
        color: None,
    };
    assert!(is_forbidden(store::update(&ctx, &bob, list.id, &rename)));
    let invite = store::invite(
        &ctx,
        &bob,
        list.id,
        &email_of("dan@example.com"),
        invited("viewer"),
    );
    assert!(is_forbidden(invite));
    assert!(is_forbidden(store::set_role(
        &ctx,
        &bob,
        list.id,
        cy.user_id,
        Role::Editor
    )));
    assert!(is_forbidden(store::remove_member(
        &ctx, &bob, list.id, cy.user_id
    )));

    let members = store::members(&ctx, &cy, list.id).unwrap();
    let seen: Vec<(&str, Role)> = members.iter().map(|m| (m.email.as_str(), m.role)).collect();
    assert_eq!(
        seen,
        [
            ("ada@example.com", Role::Owner),
            ("bob@example.com", Role::Editor),
            ("cy@example.com", Role::Viewer)
        ]
    );
    assert_eq!(store::get(&ctx, &cy, list.id).unwrap().role, Role::Viewer);
    assert_eq!(store::get(&ctx, &cy, list.id).unwrap().member_count, 3);

    let promoted = store::set_role(&ctx, &ada, list.id, cy.user_id, Role::Editor).unwrap();
    assert_eq!(
        (promoted.user_id, promoted.role),
        (cy.user_id, Role::Editor)
    );
    assert_eq!(
        store::update(&ctx, &ada, list.id, &rename).unwrap().name,
        "Bob's"
    );
}

#[test]
fn handing_over_makes_the_old_owner_an_editor_and_only_then_may_they_leave() {
    let world = World::new();
    let ctx = world.ctx();
    let ada = world.user("ada@example.com");
    let bob = world.user("bob@example.com");
    let list = world.list(&ada, "Trip");
    world.join(&ada, &list, &bob, "bob@example.com", "viewer");

    assert_eq!(
        conflict_code(store::set_role(
            &ctx,
            &ada,
            list.id,
            ada.user_id,
            Role::Editor
        )),
        "owner_must_hand_over"
    );
    assert_eq!(
        conflict_code(store::remove_member(&ctx, &ada, list.id, ada.user_id)),
        "owner_must_hand_over"
    );
    let heir = store::set_role(&ctx, &ada, list.id, bob.user_id, Role::Owner).unwrap();
    assert_eq!(heir.role, Role::Owner);
    assert_eq!(store::get(&ctx, &ada, list.id).unwrap().role, Role::Editor);
    let now = store::get(&ctx, &bob, list.id).unwrap();
    assert_eq!((now.role, now.owner.id), (Role::Owner, bob.user_id));
    // The count of owned lists moved with it.
    let owned = |who: &Caller| {
        world.count(&format!(
            "SELECT owned_lists::int8 FROM users WHERE id = '{}'",
            who.user_id
        ))
    };
    assert_eq!((owned(&ada), owned(&bob)), (0, 1));

    store::remove_member(&ctx, &ada, list.id, ada.user_id).unwrap();
    assert!(is_not_found(store::get(&ctx, &ada, list.id)));
    assert_eq!(store::get(&ctx, &bob, list.id).unwrap().member_count, 1);
}

#[test]
fn the_owner_removes_a_member_who_then_sees_nothing_of_the_list() {
    let world = World::new();
    let ctx = world.ctx();
    let ada = world.user("ada@example.com");
    let bob = world.user("bob@example.com");
    let list = world.list(&ada, "Team");
    world.join(&ada, &list, &bob, "bob@example.com", "editor");
    store::remove_member(&ctx, &ada, list.id, bob.user_id).unwrap();
    assert!(is_not_found(store::get(&ctx, &bob, list.id)));
    assert!(is_not_found(store::remove_member(
        &ctx,
        &ada,
        list.id,
        bob.user_id
    )));
    assert_eq!(store::get(&ctx, &ada, list.id).unwrap().member_count, 1);
}

#[test]
fn an_invitation_is_answered_once_by_its_invitee_and_not_after_it_was_revoked() {
    let world = World::new();
    let ctx = world.ctx();
    let ada = world.user("ada@example.com");
    let bob = world.user("bob@example.com");
    let list = world.list(&ada, "Books");

    // Unknown and known emails get the same answer.
    let to_nobody = store::invite(
        &ctx,
        &ada,
        list.id,
        &email_of("NoOne@Example.com"),
        invited("viewer"),
    )
    .unwrap();
    let to_bob = store::invite(
        &ctx,
        &ada,
        list.id,
        &email_of("bob@example.com"),
        invited("viewer"),
    )
    .unwrap();
    assert_eq!(
        (to_nobody.email.as_str(), to_nobody.status.as_str()),
        ("noone@example.com", "pending")
    );
    assert_eq!(
        (to_bob.role, to_bob.status.as_str()),
        (Role::Viewer, "pending")
    );
    assert_eq!(
        conflict_code(store::invite(
            &ctx,
            &ada,
            list.id,
            &email_of("bob@example.com"),
            invited("editor")
        )),
        "already_invited"
    );

    let pending = store::received(&ctx, &bob).unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(
        (pending[0].id, pending[0].list.name.as_str()),
        (to_bob.id, "Books")
    );
    assert_eq!(
        (pending[0].inviter.id, pending[0].role),
        (ada.user_id, Role::Viewer)
    );

    let joined = store::accept(&ctx, &bob, to_bob.id).unwrap();
    assert_eq!(
        (joined.id, joined.role, joined.member_count),
        (list.id, Role::Viewer, 2)
    );
    assert!(is_not_found(store::accept(&ctx, &bob, to_bob.id)));
    assert!(store::received(&ctx, &bob).unwrap().is_empty());
    assert_eq!(
        conflict_code(store::invite(
            &ctx,
            &ada,
            list.id,
            &email_of("bob@example.com"),
            invited("editor")
        )),
        "already_member"
    );

    // The unknown email signs up later and finds the invitation waiting;
    // after a revoke it is gone.
    let noone = world.user("noone@example.com");
    assert_eq!(store::received(&ctx, &noone).unwrap()[0].id, to_nobody.id);
    store::revoke(&ctx, &ada, list.id, to_nobody.id).unwrap();
    assert!(is_not_found(store::accept(&ctx, &noone, to_nobody.id)));
    assert!(is_not_found(store::revoke(
        &ctx,
        &ada,
        list.id,
        to_nobody.id
    )));

    let again = store::invite(
        &ctx,
        &ada,
        list.id,
        &email_of("noone@example.com"),
        invited("editor"),
    )
    .unwrap();
    store::decline(&ctx, &noone, again.id).unwrap();
    assert!(is_not_found(store::accept(&ctx, &noone, again.id)));
    assert!(is_not_found(store::get(&ctx, &noone, list.id)));
    assert_eq!(
        world.count("SELECT invitation_count::int8 FROM lists WHERE NOT inbox"),
        0
    );
}

#[test]
fn no_one_owns_more_than_100_lists_even_when_20_creates_race() {
    let world = World::new();
    let ada = world.user("ada@example.com");
    for i in 0..90 {
        world.list(&ada, &format!("list {i}"));
    }
    let results = world.concurrently(20, |ctx, i| {
        store::create(ctx, &ada, &name(&format!("race {i}")), None)
    });
    let made = results.iter().filter(|r| r.is_ok()).count();
    let refused = results
        .iter()
        .filter(|r| matches!(r, Err(ListError::LimitReached { limit: 100, .. })))
        .count();
    assert_eq!((made, refused), (10, 10), "{results:?}");
    assert_eq!(
        world.count("SELECT count(*) FROM lists WHERE NOT inbox"),
        100
    );
}

#[test]
fn a_list_holds_at_most_50_pending_invitations_even_when_20_invites_race() {
    let world = World::new();
    let ada = world.user("ada@example.com");
    let list = world.list(&ada, "Party");
    let ctx = world.ctx();
    for i in 0..40 {
        store::invite(
            &ctx,
            &ada,
            list.id,
            &email_of(&format!("g{i}@example.com")),
            invited("viewer"),
        )
        .unwrap();
    }
    let results = world.concurrently(20, |ctx, i| {
        store::invite(
            ctx,
            &ada,
            list.id,
            &email_of(&format!("r{i}@example.com")),
            invited("viewer"),
        )
    });
    let sent = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(sent, 10, "{results:?}");
    assert!(results
        .iter()
        .all(|r| r.is_ok() || matches!(r, Err(ListError::LimitReached { limit: 50, .. }))));
    assert_eq!(world.count("SELECT count(*) FROM list_invitations"), 50);
}

#[test]
fn no_one_sends_more_than_100_invitations_a_day_even_when_20_invites_race() {
    let world = World::new();
    let ada = world.user("ada@example.com");
    let ctx = world.ctx();
    let lists: Vec<List> = (0..3).map(|i| world.list(&ada, &format!("l{i}"))).collect();
    // 90 sent (and revoked, which gives none back) over two lists.
    for i in 0..90 {
        let list = &lists[i % 2];
        let sent = store::invite(
            &ctx,
            &ada,
            list.id,
            &email_of(&format!("a{i}@example.com")),
            invited("viewer"),
        )
        .unwrap();
        store::revoke(&ctx, &ada, list.id, sent.id).unwrap();
    }
    let results = world.concurrently(20, |ctx, i| {
        store::invite(
            ctx,
            &ada,
            lists[2].id,
            &email_of(&format!("b{i}@example.com")),
            invited("viewer"),
        )
    });
    let sent = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(sent, 10, "{results:?}");
    assert!(results
        .iter()
        .all(|r| r.is_ok() || matches!(r, Err(ListError::LimitReached { limit: 100, .. }))));
    // A day later the count starts again.
    world.clock.advance(24 * 3600 + 1);
    store::invite(
        &world.ctx(),
        &ada,
        lists[2].id,
        &email_of("next@example.com"),
        invited("viewer"),
    )
    .unwrap();
}

#[test]
fn a_list_has_at_most_50_members_even_when_20_accepts_race() {
    let world = World::new();
    let ada = world.user("ada@example.com");
    let list = world.list(&ada, "Club");
    let ctx = world.ctx();
    for i in 0..39 {
        let email = format!("m{i}@example.com");
        let member = world.user(&email);
        world.join(&ada, &list, &member, &email, "viewer");
    }
    assert_eq!(store::get(&ctx, &ada, list.id).unwrap().member_count, 40);
    let invitees: Vec<(Caller, Uuid)> = (0..20)
        .map(|i| {
            let email = format!("r{i}@example.com");
            let who = world.user(&email);
            let sent =
                store::invite(&ctx, &ada, list.id, &email_of(&email), invited("editor")).unwrap();
            (who, sent.id)
        })
        .collect();
    let results = world.concurrently(20, |ctx, i| {
        store::accept(ctx, &invitees[i].0, invitees[i].1)
    });
    let joined = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(joined, 10, "{results:?}");
    assert!(results
        .iter()
        .all(|r| r.is_ok() || matches!(r, Err(ListError::LimitReached { limit: 50, .. }))));
    assert_eq!(store::get(&ctx, &ada, list.id).unwrap().member_count, 50);
    assert_eq!(
        world.count(&format!(
            "SELECT count(*) FROM list_members WHERE list_id = '{}'",
            list.id
        )),
        50
    );
    // The refused keep their invitations, for when a place frees up.
    assert_eq!(world.count("SELECT count(*) FROM list_invitations"), 10);
}

#[test]
fn what_the_release_before_lists_writes_lands_in_its_users_inbox() {
    // That release inserts todos and audit rows without a list, and
    // sign-ups without an Inbox: its pods run until the new ones replace them.
    let world = World::new();
    let ada = world.user("ada@example.com");
    let inbox = store::all(&world.ctx(), &ada).unwrap().remove(0);
    let mut client = world.test_db.client();
    let row = client
        .query_one(
            "WITH t AS (INSERT INTO todos (user_id, title) VALUES ($1::text::uuid, 'old') RETURNING *),
                  a AS (INSERT INTO todo_audit (user_id, todo_id, action)
                        SELECT user_id, id, 'create' FROM t RETURNING *)
             SELECT (SELECT list_id::text FROM t), (SELECT list_id::text FROM a),
                    (SELECT actor_id::text FROM a)",
            &[&ada.user_id.to_string()],
        )
        .unwrap();
    let inbox_id = inbox.id.to_string();
    let user_id = ada.user_id.to_string();
    assert_eq!(
        (
            row.get::<_, String>(0),
            row.get::<_, String>(1),
            row.get::<_, String>(2)
        ),
        (inbox_id.clone(), inbox_id, user_id)
    );
    assert_eq!(
        store::get(&world.ctx(), &ada, inbox.id).unwrap().open_count,
        1
    );
}

#[test]
fn this_release_names_the_list_and_actor_of_everything_it_writes_without_the_triggers() {
    let world = World::new();
    let ctx = world.ctx();
    let ada = world.user("ada@example.com");
    let inbox = store::all(&ctx, &ada).unwrap().remove(0);
    // The triggers serve the previous release only.
    world
        .test_db
        .client()
        .batch_execute(
            "DROP TRIGGER todos_inbox_by_default ON todos;
             DROP TRIGGER todo_audit_inbox_by_default ON todo_audit;",
        )
        .unwrap();
    let mut new = NewTodo::new(TodoTitle::parse("water plants").unwrap());
    new.recurrence = todo_core::todos::Recurrence::parse("daily").unwrap();
    let todo = todos::create(&ctx, &ada, &new).unwrap();
    let rename = todo_core::todos::TodoChanges {
        title: Some(TodoTitle::parse("water the plants").unwrap()),
        ..Default::default()
    };
    todos::update(&ctx, &ada, todo.id, &rename, None).unwrap();
    // Completing a daily todo creates its next occurrence.
    todos::toggle(&ctx, &ada, todo.id, None).unwrap();
    todos::delete(&ctx, &ada, todo.id, None).unwrap();

    let elsewhere = |sql: &str| world.count(&sql.replace("INBOX", &inbox.id.to_string()));
    assert_eq!(
        elsewhere("SELECT count(*) FROM todos WHERE list_id <> 'INBOX'"),
        0
    );
    assert_eq!(world.count("SELECT count(*) FROM todos"), 1);
    assert_eq!(
        elsewhere(&format!(
            "SELECT count(*) FROM todo_audit
             WHERE list_id IS DISTINCT FROM 'INBOX' OR actor_id IS DISTINCT FROM '{}'",
            ada.user_id
        )),
        0
    );
    // create, update, toggle, the next one's create, delete.
    assert_eq!(world.count("SELECT count(*) FROM todo_audit"), 5);
}

/// The 10,000-todo limit counts the todos of the lists a user owns: a todo
/// created in a shared list counts against its owner, and one moved to a
/// list of another owner moves to that owner's count, refused (nothing
/// changed) when that owner has no room.
#[test]
fn a_todo_counts_against_its_lists_owner_and_a_move_moves_it_within_the_limit() {
    use todo_core::todos::{TodoError, MAX_TODOS_PER_USER};
    let world = World::new();
    let ctx = world.ctx();
    let ada = world.user("ada@example.com");
    let bob = world.user("bob@example.com");
    let trip = world.list(&ada, "Trip");
    world.join(&ada, &trip, &bob, "bob@example.com", "editor");
    let counts = || {
        let count = |user: &Caller| {
            world.count(&format!(
                "SELECT todo_count::int8 FROM users WHERE id = '{}'",
                user.user_id
            ))
        };
        (count(&ada), count(&bob))
    };
    todos::create(&ctx, &bob, &todo_in("tickets", &trip)).unwrap();
    assert_eq!(counts(), (1, 0));

    let mine = todos::create(
        &ctx,
        &bob,
        &NewTodo::new(TodoTitle::parse("passport").unwrap()),
    )
    .unwrap();
    assert_eq!(counts(), (1, 1));
    let to_trip = moved_to(&trip);
    world
        .test_db
        .client()
        .execute(
            "UPDATE users SET todo_count = $1 WHERE id = $2::text::uuid",
            &[&(MAX_TODOS_PER_USER as i32), &ada.user_id.to_string()],
        )
        .unwrap();
    assert!(matches!(
        todos::update(&ctx, &bob, mine.id, &to_trip, None),
        Err(TodoError::LimitReached { .. })
    ));
    assert_eq!(todos::get(&ctx, &bob, mine.id).unwrap(), mine);
    world
        .test_db
        .client()
        .execute(
            "UPDATE users SET todo_count = 1 WHERE id = $1::text::uuid",
            &[&ada.user_id.to_string()],
        )
        .unwrap();
    let moved = todos::update(&ctx, &bob, mine.id, &to_trip, None).unwrap();
    assert_eq!(moved.list_id, trip.id);
    assert_eq!(counts(), (2, 0));
}

/// Each list's counts of its todos and of its open ones (migration V21),
/// which a page's total adds up when nothing but its status filters it,
/// match its todos after every kind of change: creates one at a time and
/// several at once, toggles both ways, a recurring todo's next one, moves
/// between lists, deletes, clearing completed todos, and the cascades of a
/// deleted account and a deleted list.
#[test]
fn each_list_counts_its_todos_and_open_ones_through_every_change() {
    let world = World::new();
    let ctx = world.ctx();
    let (ada, bob, inbox, work) = world.ada_and_bob_share_work();

    let a = todos::create(&ctx, &ada, &todo_in("a", &inbox)).unwrap();
    let b = todos::create(&ctx, &ada, &todo_in("b", &inbox)).unwrap();
    let c = todos::create(&ctx, &ada, &todo_in("c", &work)).unwrap();
    todos::create(&ctx, &bob, &todo_in("bob's", &work)).unwrap();
    let batch: Vec<NewTodo> = (0..3)
        .map(|i| todo_in(&format!("batch {i}"), &inbox))
        .collect();
    todos::create_many(&ctx, &ada, &batch).unwrap();
    let mut daily = todo_in("water the plants", &work);
    daily.recurrence = Recurrence::Daily;
    daily.due_at = Some(DueAt::parse("2026-06-02").unwrap());
    let daily = todos::create(&ctx, &ada, &daily).unwrap();
    world.assert_counts(&ada, &[&inbox, &work]);

    todos::toggle(&ctx, &ada, a.id, None).unwrap();
    todos::toggle(&ctx, &ada, c.id, None).unwrap();
    todos::toggle(&ctx, &ada, c.id, None).unwrap();
    let next = todos::toggle(&ctx, &ada, daily.id, None).unwrap().next;
    assert!(next.is_some(), "a daily todo's next one");
    world.assert_counts(&ada, &[&inbox, &work]);

    // A done todo and an open one move; an edit that moves nothing.
    for (todo, to) in [(a.id, &work), (b.id, &work), (c.id, &inbox)] {
        todos::update(&ctx, &ada, todo, &moved_to(to), None).unwrap();
    }
    let retitled = TodoChanges {
        title: Some(TodoTitle::parse("b, renamed").unwrap()),
        ..TodoChanges::default()
    };
    todos::update(&ctx, &ada, b.id, &retitled, None).unwrap();
    world.assert_counts(&ada, &[&inbox, &work]);

    todos::delete(&ctx, &ada, b.id, None).unwrap();
    assert_eq!(
        todos::clear_completed(&ctx, &ada, Some(work.id), None).unwrap(),
        2
    );
    world.assert_counts(&ada, &[&inbox, &work]);

    world
        .test_db
        .client()
        .execute(
            "DELETE FROM users WHERE id = $1::text::uuid",
            &[&bob.user_id.to_string()],
        )
        .unwrap();
    world.assert_counts(&ada, &[&inbox, &work]);
    store::delete(&ctx, &ada, work.id).unwrap();
    world.assert_counts(&ada, &[&inbox]);
}

/// The counts stay exact when two members change the same lists at once:
/// creates, toggles, moves and deletes from 16 connections.
#[test]
fn the_lists_counts_stay_exact_under_concurrent_changes() {
    let world = World::new();
    let ctx = world.ctx();
    let (ada, bob, inbox, work) = world.ada_and_bob_share_work();
    let new = |i: usize| todo_in(&format!("todo {i}"), &work);
    let batch: Vec<NewTodo> = (0..32).map(new).collect();
    let todos = todos::create_many(&ctx, &ada, &batch).unwrap();
    world.concurrently(16, |ctx, i| {
        let who = if i % 2 == 0 { &ada } else { &bob };
        todos::create(ctx, who, &new(100 + i)).unwrap();
        let [first, second] = [&todos[2 * i], &todos[2 * i + 1]];
        todos::toggle(ctx, who, first.id, None).unwrap();
        match i % 3 {
            0 => todos::delete(ctx, who, second.id, None).unwrap(),
            1 => {
                todos::update(ctx, &ada, second.id, &moved_to(&inbox), None).unwrap();
            }
            _ => {
                todos::toggle(ctx, who, second.id, None).unwrap();
            }
        }
    });
    world.assert_counts(&ada, &[&inbox, &work]);
}

/// A new todo `title` in `list`.
fn todo_in(title: &str, list: &List) -> NewTodo {
    NewTodo {
        list_id: Some(list.id),
        ..NewTodo::new(TodoTitle::parse(title).unwrap())
    }
}

/// The change that moves a todo to `list`.
fn moved_to(list: &List) -> TodoChanges {
    TodoChanges {
        list_id: Some(list.id),
        ..TodoChanges::default()
    }
}

impl World {
    /// Ada and Bob, and Ada's Inbox and her list Work, which Bob edits too.
    fn ada_and_bob_share_work(&self) -> (Caller, Caller, List, List) {
        let ada = self.user("ada@example.com");
        let bob = self.user("bob@example.com");
        let work = self.list(&ada, "Work");
        self.join(&ada, &work, &bob, "bob@example.com", "editor");
        let inbox = store::all(&self.ctx(), &ada)
            .unwrap()
            .into_iter()
            .find(|l| l.is_inbox)
            .unwrap();
        (ada, bob, inbox, work)
    }

    /// Every list's kept counts are those of its todos, and `caller`'s
    /// pages of `lists` (each, and all of them) answer the true totals for
    /// each status, as the lists' own answers do for open todos.
    fn assert_counts(&self, caller: &Caller, lists: &[&List]) {
        let mut client = self.test_db.client();
        let drift = client
            .query(
                "SELECT l.id::text, l.todo_count, l.open_count,
                        (SELECT count(*)::int FROM todos t WHERE t.list_id = l.id),
                        (SELECT count(*)::int FROM todos t WHERE t.list_id = l.id AND NOT t.completed)
                 FROM lists l",
                &[],
            )
            .unwrap();
        for row in drift {
            let (kept, open, todos, open_todos): (i32, i32, i32, i32) =
                (row.get(1), row.get(2), row.get(3), row.get(4));
            assert_eq!(
                (kept, open),
                (todos, open_todos),
                "list {}",
                row.get::<_, String>(0)
            );
        }
        let ctx = self.ctx();
        let mut count = |list: Option<Uuid>, completed: Option<bool>| -> i64 {
            let row = client
                .query_one(
                    "SELECT count(*) FROM todos t JOIN list_members m ON m.list_id = t.list_id
                     WHERE m.user_id = $1::text::uuid
                       AND ($2::text IS NULL OR t.list_id = $2::text::uuid)
                       AND ($3::bool IS NULL OR t.completed = $3)",
                    &[
                        &caller.user_id.to_string(),
                        &list.map(|l| l.to_string()),
                        &completed,
                    ],
                )
                .unwrap();
            row.get(0)
        };
        let shown = lists.iter().map(|l| Some(l.id)).chain([None]);
        for list in shown {
            for (status, completed) in [
                (Status::All, None),
                (Status::Open, Some(false)),
                (Status::Done, Some(true)),
            ] {
                let query = ListQuery {
                    list,
                    status,
                    ..ListQuery::default()
                };
                let page = todos::list(&ctx, caller, &query).unwrap();
                assert_eq!(page.total, count(list, completed), "{list:?} {status:?}");
            }
        }
        for list in store::all(&ctx, caller).unwrap() {
            assert_eq!(
                list.open_count,
                count(Some(list.id), Some(false)),
                "{}",
                list.name
            );
        }
    }
}
