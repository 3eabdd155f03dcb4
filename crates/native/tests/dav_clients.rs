//! CalDAV as three real clients speak it: the requests DAVx⁵ (for
//! Tasks.org), Thunderbird and Apple Reminders send during discovery and
//! their first sync, replayed in order from fixtures
//! (`fixtures/dav/<client>/`, each naming its public source), with what
//! each client needs from every answer to go on, then a task written the
//! way that client writes it and read back with its own properties intact.
//!
//! Where the server falls short of what a client needs, the check is a
//! `Gaps` entry marked `SERVER GAP`: the replay goes on to the end and the
//! test fails once, listing every gap.

use native::testing::TestApp;

mod dav_support;

use dav_support::{body, find, multistatus, responses, Response, User};

// ---------------------------------------------------------------- fixtures

/// A fixture's text as the client sends it: the `<!-- source: … -->`
/// note that names where it comes from is taken out, and `{{HREFS}}` is
/// replaced by `hrefs`.
fn fixture(client: &str, name: &str, hrefs: &str) -> String {
    let path = format!(
        "{}/tests/fixtures/dav/{client}/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let raw = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let text = match (raw.find("<!-- source:"), raw.find("-->")) {
        (Some(start), Some(end)) if end > start => {
            let rest = &raw[end + "-->".len()..];
            format!(
                "{}{}",
                &raw[..start],
                rest.strip_prefix('\n').unwrap_or(rest)
            )
        }
        _ => raw,
    };
    text.replace("{{HREFS}}", hrefs)
}

/// What the server owes a client and does not give: collected along the
/// replay, so that one run shows every gap.
#[derive(Default)]
struct Gaps(Vec<String>);

impl Gaps {
    /// SERVER GAP when `holds` is false.
    fn check(&mut self, holds: bool, gap: impl Into<String>) {
        if !holds {
            self.0.push(gap.into());
        }
    }

    fn none(self) {
        assert!(
            self.0.is_empty(),
            "SERVER GAP(S):\n- {}",
            self.0.join("\n- ")
        );
    }
}

/// `/.well-known/caldav` sends every client to the service root.
fn well_known(user: &User, method: &str) {
    let moved = user.dav(method, "/.well-known/caldav", &[("depth", "0")], "");
    assert_eq!(moved.status, 301, "{}", body(&moved));
    assert_eq!(moved.header("location"), Some("/dav/"));
}

/// Every property a client needs of a task list, whoever asks.
fn assert_task_list(list: &Response, name: &str) {
    assert!(list.status.contains("200"), "{list:?}");
    assert_eq!(list.prop("resourcetype"), "<collection><calendar>");
    assert_eq!(list.prop("displayname"), name);
}

fn supports_vtodo(list: &Response) -> bool {
    list.get("supported-calendar-component-set")
        .is_some_and(|s| s.contains("<comp name=\"VTODO\">"))
}

/// The lines of an iCalendar text, unfolded.
fn ical_lines(ics: &str) -> Vec<String> {
    ics.replace("\r\n ", "")
        .replace("\r\n\t", "")
        .lines()
        .map(str::to_owned)
        .collect()
}

fn assert_kept(ics: &str, lines: &[&str]) {
    let have = ical_lines(ics);
    for line in lines {
        assert!(have.iter().any(|l| l == line), "{line} not in\n{ics}");
    }
}

// ----------------------------------------------------------------- DAVx⁵

#[test]
fn davx5_for_tasks_org_finds_every_list_and_syncs_a_task_with_its_own_properties() {
    let app = TestApp::spawn();
    let ada = User::signup(&app, "ada@example.com");
    let errands = ada.list("Errands", "#33aa55");
    let mut gaps = Gaps::default();
    let client = "davx5";

    // The base URL the README gives DAVx⁵ is the site root, which sends a
    // PROPFIND on to the CalDAV root, as the well-known URL does (a 401
    // would stop it: "encountered401").
    let root = ada.dav(
        "PROPFIND",
        "/",
        &[
            ("depth", "0"),
            ("content-type", "application/xml; charset=utf-8"),
        ],
        &fixture(client, "davx5-01-base-url.xml", ""),
    );
    assert_eq!(root.status, 301, "{}", body(&root));
    assert_eq!(root.header("location"), Some("/dav/"));
    // getCurrentUserPrincipal(/.well-known/caldav): the same PROPFIND,
    // redirects followed.
    well_known(&ada, "PROPFIND");
    let base = ada.dav(
        "PROPFIND",
        "/dav/",
        &[("depth", "0")],
        &fixture(client, "davx5-01-base-url.xml", ""),
    );
    let base = &responses(&base)[0];
    assert_eq!(base.prop("current-user-principal"), ada.principal());
    // scanResponse() takes a calendar-home-set it finds here too.
    assert_eq!(base.prop("calendar-home-set"), ada.home());

    // providesService(): OPTIONS on the principal must say calendar-access.
    let options = ada.dav("OPTIONS", &ada.principal(), &[], "");
    assert_eq!(options.status, 200);
    assert!(options
        .header("dav")
        .is_some_and(|d| d.contains("calendar-access")));

    let email = ada.dav(
        "PROPFIND",
        &ada.principal(),
        &[("depth", "0")],
        &fixture(client, "davx5-02-principal-email.xml", ""),
    );
    assert_eq!(
        responses(&email)[0].prop("calendar-user-address-set"),
        "mailto:ada@example.com"
    );

    let home_sets = ada.dav(
        "PROPFIND",
        &ada.principal(),
        &[("depth", "0")],
        &fixture(client, "davx5-03-principal-home-sets.xml", ""),
    );
    let principal = &responses(&home_sets)[0];
    assert_eq!(principal.prop("calendar-home-set"), ada.home());
    assert!(principal.prop("resourcetype").contains("<principal>"));
    assert!(principal
        .missing
        .contains(&"calendar-proxy-read-for".into()));

    let listing = ada.dav(
        "PROPFIND",
        &ada.home(),
        &[("depth", "1")],
        &fixture(client, "davx5-04-home-collections.xml", ""),
    );
    let all = responses(&listing);
    assert_eq!(all.len(), 3, "{all:#?}");
    // HomeSetRefresher: the home itself (privBind from its privileges).
    let home = find(&all, &ada.home());
    gaps.check(
        home.get("current-user-privilege-set")
            .is_some_and(|p| p.contains("<bind>")),
        format!(
            "DAVx⁵ HomeSetRefresher: PROPFIND Depth 1 {} (davx5-04-home-collections.xml) \
             answers the home's current-user-privilege-set as {:?}, without DAV:bind, so \
             DAVx⁵ stores privBind=false and offers no \"create calendar\", though MKCALENDAR \
             under the home works",
            ada.home(),
            home.get("current-user-privilege-set")
        ),
    );
    for (list, name) in [(ada.inbox(), "Inbox"), (errands.clone(), "Errands")] {
        let l = find(&all, &ada.calendar(&list));
        // Collection.fromDavResponse: a calendar, with VTODO, owned by the
        // principal (isPersonal), writable.
        assert_task_list(l, name);
        assert!(supports_vtodo(l), "{l:?}");
        assert_eq!(l.prop("owner"), ada.principal());
        assert!(l
            .prop("current-user-privilege-set")
            .contains("<write-content>"));
        assert!(l.missing.contains(&"source".into()), "{l:?}");
    }
    assert_eq!(
        find(&all, &ada.calendar(&errands)).prop("calendar-color"),
        "#33AA55"
    );

    // TasksSyncManager: capabilities, then the task list's members.
    let cal = ada.calendar(&errands);
    let caps = ada.dav(
        "PROPFIND",
        &cal,
        &[("depth", "0")],
        &fixture(client, "davx5-05-capabilities.xml", ""),
    );
    let caps = &responses(&caps)[0];
    assert_eq!(caps.prop("max-resource-size"), "262144");
    assert!(caps.prop("sync-token").starts_with("http"));
    let ctag_before = caps.prop("getctag").to_owned();

    // Uploading a new task: If-None-Match: *, text/calendar; charset=utf-8.
    let task = fixture(client, "davx5-08-task.ics", "");
    let href = format!("{cal}3071754526080170849.ics");
    let put = ada.dav(
        "PUT",
        &href,
        &[
            ("if-none-match", "*"),
            ("content-type", "text/calendar; charset=utf-8"),
        ],
        &task,
    );
    assert_eq!(put.status, 201, "{}", body(&put));
    let etag = put.header("etag").expect("an ETag on PUT").to_owned();

    let caps = ada.dav(
        "PROPFIND",
        &cal,
        &[("depth", "0")],
        &fixture(client, "davx5-05-capabilities.xml", ""),
    );
    assert_ne!(responses(&caps)[0].prop("getctag"), ctag_before);

    let query = ada.dav(
        "REPORT",
        &cal,
        &[
            ("depth", "1"),
            ("content-type", "application/xml; charset=utf-8"),
        ],
        &fixture(client, "davx5-06-calendar-query.xml", ""),
    );
    let members = responses(&query);
    assert_eq!(members.len(), 1, "{members:#?}");
    assert_eq!(find(&members, &href).prop("getetag"), etag);

    let multiget = ada.dav(
        "REPORT",
        &cal,
        &[("content-type", "application/xml; charset=utf-8")],
        &fixture(
            client,
            "davx5-07-multiget.xml",
            &format!("<href>{href}</href>"),
        ),
    );
    let got = responses(&multiget);
    let got = find(&got, &href);
    assert_eq!(got.prop("getetag"), etag);
    assert!(got.prop("getcontenttype").starts_with("text/calendar"));
    assert!(got.missing.contains(&"schedule-tag".into()), "{got:?}");
    let kept = [
        "UID:3071754526080170849",
        "SUMMARY:Renew passport",
        "DESCRIPTION:Photos first\\, then the form",
        "DUE;VALUE=DATE:20261215",
        "X-APPLE-SORT-ORDER:559033419",
        "X-OC-HIDESUBTASKS:1",
        "DESCRIPTION:Default Tasks.org description",
        "TRIGGER;RELATED=END:PT0S",
    ];
    assert_kept(got.prop("calendar-data"), &kept);
    let get = ada.dav("GET", &href, &[], "").expect(200);
    assert_eq!(get.header("etag"), Some(etag.as_str()));
    assert_kept(body(&get), &kept);
    let lines = ical_lines(body(&get));
    gaps.check(
        lines.iter().any(|l| l == "CATEGORIES:Errands"),
        format!(
            "DAVx⁵/Tasks.org: PUT {href} with CATEGORIES:Errands (davx5-08-task.ics), then \
             GET answers {:?}: the tag's case is the app's, not the client's, so Tasks.org \
             reads its tag back renamed",
            lines.iter().find(|l| l.starts_with("CATEGORIES"))
        ),
    );
    gaps.check(
        lines.iter().any(|l| l == "SEQUENCE:1"),
        format!(
            "DAVx⁵/Tasks.org: PUT {href} with SEQUENCE:1 (davx5-08-task.ics), then GET \
             answers {:?}: the SEQUENCE a client wrote goes backwards (RFC 5545 3.8.7.4 \
             has it only grow)",
            lines.iter().find(|l| l.starts_with("SEQUENCE"))
        ),
    );

    // The next upload of the same task: If-Match with the ETag it holds.
    let edited = task.replace("SUMMARY:Renew passport", "SUMMARY:Renew both passports");
    let update = ada.dav("PUT", &href, &[("if-match", &etag)], &edited);
    assert_eq!(update.status, 204, "{}", body(&update));
    let title = &ada.rest("GET", "/api/todos", None).expect(200).body["items"][0]["title"];
    assert_eq!(title, "Renew both passports");

    gaps.none();
}

// ----------------------------------------------------------- Thunderbird

#[test]
fn thunderbird_detects_the_lists_checks_one_and_syncs_a_task_with_its_own_properties() {
    let app = TestApp::spawn();
    let ada = User::signup(&app, "ada@example.com");
    let groceries = ada.list("Groceries", "#ff8800");
    let client = "thunderbird";
    let xml = ("content-type", "text/xml; charset=utf-8");

    // CalDavDetector: the well-known URL, followed to /dav/. Most of what
    // it asks is unknown there; the answer is still a 207 with the rest.
    well_known(&ada, "PROPFIND");
    let detect = ada.dav(
        "PROPFIND",
        "/dav/",
        &[("depth", "0"), xml],
        &fixture(client, "thunderbird-01-detect.xml", ""),
    );
    let root = &responses(&detect)[0];
    assert!(root.status.contains("200"), "{root:?}");
    assert!(!root.prop("resourcetype").contains("<calendar>"));
    // A home set here sends it straight to handleHomeSet().
    assert_eq!(root.prop("calendar-home-set"), ada.home());
    assert_eq!(root.prop("current-user-principal"), ada.principal());
    assert!(root.missing.contains(&"calendar-color".into()), "{root:?}");

    let home = ada.dav(
        "PROPFIND",
        &ada.home(),
        &[("depth", "1"), xml],
        &fixture(client, "thunderbird-02-home.xml", ""),
    );
    let all = responses(&home);
    let calendars: Vec<&Response> = all
        .iter()
        .filter(|r| {
            r.get("resourcetype")
                .is_some_and(|t| t.contains("<calendar>"))
        })
        .collect();
    assert_eq!(calendars.len(), 2, "{all:#?}");
    let list = find(&all, &ada.calendar(&groceries));
    assert_task_list(list, "Groceries");
    // handleCalendar(): writable when it sees write, write-content, ….
    assert!(list.prop("current-user-privilege-set").contains("<write>"));
    assert_eq!(list.prop("calendar-color"), "#FF8800");

    // The calendar's own start: checkDavResourceType(), then the OPTIONS
    // of checkServerCaps() on the home.
    let cal = ada.calendar(&groceries);
    let check = ada.dav(
        "PROPFIND",
        &cal,
        &[("depth", "0"), xml],
        &fixture(client, "thunderbird-03-resource-type.xml", ""),
    );
    let c = &responses(&check)[0];
    assert!(c.prop("resourcetype").contains("<calendar>"));
    assert!(c.prop("supported-report-set").contains("<sync-collection>"));
    assert!(supports_vtodo(c), "{c:?}");
    assert!(!c.prop("getctag").is_empty());
    assert_eq!(c.prop("current-user-principal"), ada.principal());
    assert_eq!(c.prop("owner"), ada.principal());
    let caps = ada.dav("OPTIONS", &ada.home(), &[], "");
    assert_eq!(caps.status, 200);
    assert!(caps
        .header("dav")
        .is_some_and(|d| d.contains("calendar-access")));

    // A new task: <id>.ics, If-None-Match: *.
    let task = fixture(client, "thunderbird-07-task.ics", "");
    let href = format!("{cal}b4c1d2e3-f4a5-4b6c-9d8e-7f6a5b4c3d2e.ics");
    let put = ada.dav(
        "PUT",
        &href,
        &[
            ("if-none-match", "*"),
            ("content-type", "text/calendar; charset=utf-8"),
        ],
        &task,
    );
    assert_eq!(put.status, 201, "{}", body(&put));
    let etag = put.header("etag").expect("an ETag on PUT").to_owned();

    // The first webdav sync (Depth: 1 and sync-level 1 both sent).
    let sync = ada.dav(
        "REPORT",
        &cal,
        &[("depth", "1"), xml],
        &fixture(client, "thunderbird-04-sync-collection.xml", ""),
    );
    let (changed, token) = multistatus(&sync);
    assert!(token.is_some_and(|t| !t.is_empty()), "{}", body(&sync));
    let item = find(&changed, &href);
    assert!(item.prop("getcontenttype").starts_with("text/calendar"));
    assert_eq!(item.prop("getetag"), etag);

    let multiget = ada.dav(
        "REPORT",
        &cal,
        &[("depth", "1"), xml],
        &fixture(
            client,
            "thunderbird-05-multiget.xml",
            &format!("<D:href>{href}</D:href>"),
        ),
    );
    let got = responses(&multiget);
    let got = find(&got, &href);
    assert_eq!(got.prop("getetag"), etag);
    let kept = [
        "UID:b4c1d2e3-f4a5-4b6c-9d8e-7f6a5b4c3d2e",
        "STATUS:IN-PROCESS",
        "PERCENT-COMPLETE:40",
        "X-MOZ-GENERATION:2",
        "X-MOZ-LASTACK:20261201T091200Z",
        "BEGIN:VTIMEZONE",
        "TZID:Europe/Berlin",
        "DUE;TZID=Europe/Berlin:20261218T170000",
        "DTSTART;TZID=Europe/Berlin:20261214T090000",
        "DESCRIPTION:Default Mozilla Description",
    ];
    assert_kept(got.prop("calendar-data"), &kept);

    // Without webdav sync it lists etags instead; the calendar itself is a
    // collection, the task text/calendar.
    let etags = ada.dav(
        "PROPFIND",
        &cal,
        &[("depth", "1"), xml],
        &fixture(client, "thunderbird-06-etags.xml", ""),
    );
    let listed = responses(&etags);
    assert!(find(&listed, &cal)
        .prop("resourcetype")
        .contains("<collection>"));
    let member = find(&listed, &href);
    assert!(member.prop("getcontenttype").starts_with("text/calendar"));
    assert_eq!(member.prop("getetag"), etag);

    let get = ada.dav("GET", &href, &[], "").expect(200);
    assert_kept(body(&get), &kept);

    // A change in Thunderbird: the next generation, If-Match.
    let edited = task.replace("X-MOZ-GENERATION:2", "X-MOZ-GENERATION:3");
    let update = ada.dav(
        "PUT",
        &href,
        &[
            ("if-match", &etag),
            ("content-type", "text/calendar; charset=utf-8"),
        ],
        &edited,
    );
    assert_eq!(update.status, 204, "{}", body(&update));
    let get = ada.dav("GET", &href, &[], "").expect(200);
    assert_kept(body(&get), &["X-MOZ-GENERATION:3"]);
}

// ------------------------------------------------------- Apple Reminders

#[test]
fn apple_reminders_finds_the_lists_under_a_plain_home_and_syncs_a_reminder_with_its_own_properties()
{
    let app = TestApp::spawn();
    let ada = User::signup(&app, "ada@example.com");
    let garden = ada.list("Garden", "#11aa44");
    let client = "apple";
    let xml = ("content-type", "text/xml");

    well_known(&ada, "PROPFIND");
    let initial = ada.dav(
        "PROPFIND",
        "/dav/",
        &[("depth", "0"), xml],
        &fixture(client, "apple-01-principal-initial.xml", ""),
    );
    let root = &responses(&initial)[0];
    assert_eq!(root.prop("current-user-principal"), ada.principal());

    let principal = ada.dav(
        "PROPFIND",
        &ada.principal(),
        &[("depth", "0"), xml],
        &fixture(client, "apple-02-principal.xml", ""),
    );
    let p = &responses(&principal)[0];
    assert_eq!(p.prop("calendar-home-set"), ada.home());
    assert_eq!(
        p.prop("calendar-user-address-set"),
        "mailto:ada@example.com"
    );
    assert_eq!(p.prop("principal-URL"), ada.principal());
    assert_eq!(p.prop("displayname"), "Ada");
    // No scheduling, no notifications: 404 inside the 207.
    assert!(p.missing.contains(&"schedule-inbox-URL".into()), "{p:?}");

    let home = ada.dav(
        "PROPFIND",
        &ada.home(),
        &[("depth", "1"), xml],
        &fixture(client, "apple-03-home.xml", ""),
    );
    let all = responses(&home);
    assert_eq!(all.len(), 3, "{all:#?}");
    // The home is never a calendar itself.
    assert_eq!(find(&all, &ada.home()).prop("resourcetype"), "<collection>");
    for (list, name) in [(ada.inbox(), "Inbox"), (garden.clone(), "Garden")] {
        let l = find(&all, &ada.calendar(&list));
        assert_task_list(l, name);
        // Reminders shows the calendars that take VTODOs.
        assert!(supports_vtodo(l), "{l:?}");
        assert!(!l.prop("getctag").is_empty());
        assert!(l.prop("sync-token").starts_with("http"));
        assert!(l.prop("current-user-privilege-set").contains("<write>"));
        assert!(l.prop("supported-report-set").contains("<sync-collection>"));
    }
    assert_eq!(
        find(&all, &ada.calendar(&garden)).prop("calendar-color"),
        "#11AA44"
    );

    let cal = ada.calendar(&garden);
    let poll = |user: &User| {
        let ctag = user.dav(
            "PROPFIND",
            &cal,
            &[("depth", "0"), xml],
            &fixture(client, "apple-04-calendar-ctag.xml", ""),
        );
        let r = &responses(&ctag)[0];
        (
            r.prop("getctag").to_owned(),
            r.prop("sync-token").to_owned(),
        )
    };
    let (ctag, token) = poll(&ada);

    let task = fixture(client, "apple-07-task.ics", "");
    let href = format!("{cal}F87D9736-8ADE-47E4-AC46-638B5C86E7D0.ics");
    let put = ada.dav(
        "PUT",
        &href,
        &[("if-none-match", "*"), ("content-type", "text/calendar")],
        &task,
    );
    assert_eq!(put.status, 201, "{}", body(&put));
    let etag = put.header("etag").expect("an ETag on PUT").to_owned();
    let (ctag_after, token_after) = poll(&ada);
    assert_ne!(ctag_after, ctag);
    assert_ne!(token_after, token);

    let sync = ada.dav(
        "REPORT",
        &cal,
        &[xml],
        &fixture(client, "apple-05-calendar-sync.xml", ""),
    );
    let (changed, next) = multistatus(&sync);
    assert_eq!(next.as_deref(), Some(token_after.as_str()));
    let item = find(&changed, &href);
    assert_eq!(item.prop("getetag"), etag);
    assert!(item.prop("getcontenttype").starts_with("text/calendar"));

    let multiget = ada.dav(
        "REPORT",
        &cal,
        &[("depth", "1"), xml],
        &fixture(
            client,
            "apple-06-multiget.xml",
            &format!("  <A:href xmlns:A=\"DAV:\">{href}</A:href>\n"),
        ),
    );
    let got = responses(&multiget);
    let got = find(&got, &href);
    assert_eq!(got.prop("getetag"), etag);
    let kept = [
        "UID:F87D9736-8ADE-47E4-AC46-638B5C86E7D0",
        "SUMMARY:Pick up the dry cleaning",
        "DUE;VALUE=DATE:20261203",
        "PRIORITY:1",
        "X-APPLE-SORT-ORDER:740793996",
        "X-WR-ALARMUID:0F6B9E1D-8E23-4D0B-9C1E-6B3F8A2E5D70",
    ];
    assert_kept(got.prop("calendar-data"), &kept);
    let get = ada.dav("GET", &href, &[], "").expect(200);
    assert_eq!(get.header("etag"), Some(etag.as_str()));
    assert_kept(body(&get), &kept);
}
