import Mustache

/// The dashboard's mustache templates and its one stylesheet, compiled into the binary: the Debian package has no
/// resource bundle to lose, and nothing is fetched from outside the school's network.
enum DashboardTemplates {
    /// Parsed once; a template that fails to parse is a programming error caught by every dashboard test.
    static let library: MustacheLibrary = {
        var library = MustacheLibrary()
        for (name, text) in templates {
            do {
                try library.register(text, named: name)
            } catch {
                fatalError("dashboard template \(name) does not parse: \(error)")  // safe: the templates are constants, parsed by the tests
            }
        }
        return library
    }()

    static func render(_ name: String, _ context: [String: Any]) -> String {
        library.render(context, withTemplate: name) ?? ""
    }

    /// A standalone printable page, no navigation: with the stylesheet inline for a file that travels, or linked when
    /// the dashboard serves it (its Content-Security-Policy allows no inline style).
    static func document(title: String, body: String, linkedStylesheet: Bool = false) -> String {
        render("document", ["title": title, "css": linkedStylesheet ? "" : css, "linked": linkedStylesheet, "body": body])
    }

    static let templates: [String: String] = [
        "layout": """
            <!DOCTYPE html>
            <html lang="en-GB">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>{{title}} · Rollcall</title>
            <link rel="stylesheet" href="/static/rollcall.css">
            </head>
            <body>
            <header class="top">
            <a class="brand" href="{{home}}">Rollcall</a>
            <nav aria-label="Sections">{{#nav}}<a href="{{href}}"{{#current}} aria-current="page"{{/current}}>{{label}}</a>{{/nav}}</nav>
            {{#user}}<form class="signout" method="post" action="/logout"><span class="who">{{name}} · {{role}}</span><input type="hidden" name="csrf" value="{{csrf}}"><button type="submit">Sign out</button></form>{{/user}}
            </header>
            <main id="main">
            {{#flash}}<p class="flash" role="status">{{.}}</p>{{/flash}}
            {{{content}}}
            </main>
            </body>
            </html>

            """,
        "document": """
            <!DOCTYPE html>
            <html lang="en-GB">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>{{title}}</title>
            {{#linked}}<link rel="stylesheet" href="/static/rollcall.css">{{/linked}}{{^linked}}<style>{{{css}}}</style>{{/linked}}
            </head>
            <body class="document">
            {{#linked}}<p class="back"><a href="/">← Back to the dashboard</a></p>{{/linked}}
            <h1>{{title}}</h1>
            {{{body}}}
            </body>
            </html>

            """,
        "table": """
            <h1>{{title}}</h1>
            {{#notes}}<p class="note">{{.}}</p>{{/notes}}
            {{{before}}}
            <form class="filter" method="get" action="{{path}}">
            <label>Filter <input type="search" name="q" value="{{query}}" placeholder="any column"></label>
            {{#sort}}<input type="hidden" name="sort" value="{{key}}"><input type="hidden" name="dir" value="{{dir}}">{{/sort}}
            <button type="submit">Filter</button>
            <span class="exports">Export these rows: <a id="export-csv" href="{{csvHref}}" download>CSV</a> · <a id="export-json" href="{{jsonHref}}">JSON</a></span>
            </form>
            <p class="count">{{shown}} of {{matching}} row(s){{#hasQuery}} matching “{{query}}”{{/hasQuery}}{{#filteredOut}}, {{total}} in all{{/filteredOut}}.</p>
            <div class="scroll">
            <table class="data" id="{{name}}-table">
            <thead><tr>{{#columns}}<th scope="col"{{#numeric}} class="num"{{/numeric}}{{#ariaSort}} aria-sort="{{ariaSort}}"{{/ariaSort}}><a href="{{href}}">{{label}}{{#arrow}} <span aria-hidden="true">{{arrow}}</span>{{/arrow}}</a></th>{{/columns}}</tr></thead>
            <tbody>
            {{#rows}}<tr{{#tone}} class="{{tone}}"{{/tone}}>{{#cells}}<td{{#numeric}} class="num"{{/numeric}}{{#date}} class="date"{{/date}}>{{#href}}<a href="{{href}}">{{text}}</a>{{/href}}{{^href}}{{text}}{{/href}}</td>{{/cells}}</tr>
            {{/rows}}
            {{^rows}}<tr><td colspan="{{columnCount}}" class="empty">{{empty}}</td></tr>{{/rows}}
            </tbody>
            </table>
            </div>
            {{#paging}}<nav class="pages" aria-label="Pages">{{#previous}}<a rel="prev" href="{{previous}}">← Previous</a>{{/previous}} <span>Page {{page}} of {{pages}}</span> {{#next}}<a rel="next" href="{{next}}">Next →</a>{{/next}}</nav>{{/paging}}
            {{{after}}}

            """,
        "overview": """
            <h1>Compliance at a glance</h1>
            <p class="note">As of {{generatedAt}}. Each tile counts from the same data as its page.</p>
            <div class="tiles">
            {{#tiles}}<section class="tile {{tone}}"><h2>{{#href}}<a href="{{href}}">{{title}}</a>{{/href}}{{^href}}{{title}}{{/href}}</h2><p class="big">{{value}}</p><p>{{detail}}</p></section>
            {{/tiles}}
            </div>
            <div class="charts">
            <figure>{{{incidentsChart}}}<figcaption>E-safety incidents per month</figcaption></figure>
            <figure>{{{usbChart}}}<figcaption>USB storage insertions per month</figcaption></figure>
            <figure>{{{complianceChart}}}<figcaption>Compliance over time (recorded daily from the first overview)</figcaption></figure>
            </div>

            """,
        "signin": """
            <h1>Sign in</h1>
            <form class="signin" method="post" action="/login">
            <input type="hidden" name="csrf" value="{{csrf}}">
            <input type="hidden" name="next" value="{{next}}">
            {{#error}}<p class="error" role="alert">{{error}}</p>{{/error}}
            <label>User name <input name="username" autocomplete="username" required value="{{username}}" autofocus></label>
            <label>Password <input name="password" type="password" autocomplete="current-password" required></label>
            <button type="submit">Sign in</button>
            </form>
            <p class="note">Rollcall shows each role what it needs: technicians everything, e-safety officers the incident log and reports, governors the anonymised summary.</p>

            """,
        "incidentForm": """
            <section class="form">
            <h2>Record an incident</h2>
            <form method="post" action="/incidents" id="incident-form">
            <input type="hidden" name="csrf" value="{{csrf}}">
            {{#error}}<p class="error" role="alert">{{error}}</p>{{/error}}
            <label>Category <select name="category" required>{{#categories}}<option value="{{value}}">{{label}}</option>{{/categories}}</select></label>
            <label>When it happened (UTC) <input type="datetime-local" name="when" value="{{now}}" required></label>
            <label>Reported by <input name="reported_by" value="{{reporter}}"></label>
            <label>Where <input name="where"></label>
            <label>Who was involved <input name="who"></label>
            <label class="wide">What happened, with devices and user names <textarea name="description" rows="4" required></textarea></label>
            <fieldset class="wide"><legend>Action taken</legend>{{#actions}}<label class="check"><input type="checkbox" name="action" value="{{value}}"> {{label}}</label>{{/actions}}</fieldset>
            <label class="wide">Outcome <input name="outcome"></label>
            <button type="submit">Record incident</button>
            </form>
            </section>

            """,
        "incident": """
            <h1>Incident {{id}}: {{category}}</h1>
            <dl class="fields">
            <dt>Status</dt><dd>{{status}}</dd>
            <dt>When</dt><dd>{{occurredAt}}</dd>
            <dt>Reported by</dt><dd>{{reportedBy}}</dd>
            <dt>Where</dt><dd>{{location}}</dd>
            <dt>Who was involved</dt><dd>{{involved}}</dd>
            <dt>What happened</dt><dd>{{description}}</dd>
            <dt>Action taken</dt><dd>{{#actionsTaken}}{{.}}<br>{{/actionsTaken}}</dd>
            <dt>Outcome</dt><dd>{{outcome}}</dd>
            </dl>
            {{#canRecord}}
            <section class="form">
            <h2>Update</h2>
            <form method="post" action="/incidents/{{id}}" id="incident-update">
            <input type="hidden" name="csrf" value="{{csrf}}">
            {{#error}}<p class="error" role="alert">{{error}}</p>{{/error}}
            <fieldset class="wide"><legend>Action taken</legend>{{#actions}}<label class="check"><input type="checkbox" name="action" value="{{value}}"{{#checked}} checked{{/checked}}> {{label}}</label>{{/actions}}</fieldset>
            <label class="wide">Outcome <input name="outcome" value="{{outcome}}"></label>
            <label class="check"><input type="checkbox" name="close" value="1"{{#closed}} checked{{/closed}}> Closed</label>
            <button type="submit">Save</button>
            </form>
            </section>
            {{/canRecord}}
            <h2>History</h2>
            <table class="data"><thead><tr><th scope="col">When</th><th scope="col">Who</th><th scope="col">Change</th><th scope="col">Detail</th></tr></thead>
            <tbody>{{#history}}<tr><td>{{at}}</td><td>{{actor}}</td><td>{{action}}</td><td>{{detail}}</td></tr>{{/history}}</tbody></table>

            """,
        "refused": """
            <h1>{{heading}}</h1>
            <p>{{message}}</p>
            <p><a href="{{home}}">Back to what you can see</a></p>

            """,
    ]

    static let css = """
        :root { --ink: #1b1b1b; --muted: #595959; --line: #cfcfcf; --bad: #a4000f; --bad-bg: #fdecee; --warn-bg: #fff4e5; --good: #1d6b2a; --accent: #1d4f91; }
        * { box-sizing: border-box; }
        body { font-family: system-ui, "DejaVu Sans", sans-serif; margin: 0; color: var(--ink); background: #fafafa; }
        body.document { margin: 2rem; background: #fff; }
        header.top { display: flex; flex-wrap: wrap; align-items: center; gap: 1rem; padding: .5rem 1.5rem; background: var(--accent); color: #fff; }
        header.top a { color: #fff; text-decoration: none; }
        .brand { font-weight: 700; font-size: 1.1rem; }
        header nav { display: flex; flex-wrap: wrap; gap: .25rem; flex: 1; }
        header nav a { padding: .3rem .6rem; border-radius: 4px; }
        header nav a[aria-current="page"], header nav a:hover { background: rgba(255,255,255,.2); }
        .signout { display: flex; gap: .5rem; align-items: center; }
        .signout button { font: inherit; }
        main { padding: 1rem 1.5rem 3rem; }
        h1 { font-size: 1.5rem; margin: .5rem 0; }
        h2 { font-size: 1.15rem; margin-top: 1.5rem; }
        .note, .meta, .count { color: var(--muted); margin: .25rem 0; }
        .flash { background: #e7f3ea; border-left: 4px solid var(--good); padding: .5rem .75rem; }
        .error { background: var(--bad-bg); border-left: 4px solid var(--bad); padding: .5rem .75rem; }
        form.filter { display: flex; flex-wrap: wrap; gap: .75rem; align-items: center; margin: .75rem 0; }
        .exports { margin-left: auto; }
        .scroll { overflow-x: auto; }
        table { border-collapse: collapse; width: 100%; font-size: .875rem; background: #fff; }
        th, td { border: 1px solid var(--line); padding: .3rem .5rem; text-align: left; vertical-align: top; }
        th { background: #eef1f5; white-space: nowrap; }
        th a { color: inherit; }
        td.num, th.num { text-align: right; }
        td.date { white-space: nowrap; }
        figure.trend { max-width: 42rem; }
        td.empty { color: var(--muted); font-style: italic; }
        tr.bad td { background: var(--bad-bg); }
        tr.warn td { background: var(--warn-bg); }
        .pages { margin: .75rem 0; display: flex; gap: 1rem; }
        .tiles { display: grid; grid-template-columns: repeat(auto-fill, minmax(14rem, 1fr)); gap: 1rem; margin: 1rem 0; }
        .tile { background: #fff; border: 1px solid var(--line); border-top: 4px solid var(--good); padding: .5rem 1rem; }
        .tile.bad { border-top-color: var(--bad); }
        .tile.warn { border-top-color: #c77700; }
        .tile h2 { font-size: 1rem; margin: .25rem 0; }
        .tile .big { font-size: 1.8rem; font-weight: 700; margin: .25rem 0; }
        .charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(22rem, 1fr)); gap: 1rem; }
        figure { margin: 0; background: #fff; border: 1px solid var(--line); padding: .5rem; }
        figcaption { color: var(--muted); font-size: .85rem; }
        svg.chart { width: 100%; height: auto; }
        svg .bar { fill: var(--accent); }
        svg .bar.hidden { fill: #9aa7b8; }
        svg .label, svg .value { font-size: 11px; fill: var(--muted); }
        svg .axis, svg .grid { stroke: var(--line); }
        svg .line { fill: none; stroke-width: 2; }
        svg .line.s1, svg .key.s1 { stroke: var(--accent); fill: var(--accent); }
        svg .line.s2, svg .key.s2 { stroke: var(--good); fill: var(--good); }
        svg .line.s3, svg .key.s3 { stroke: #c77700; fill: #c77700; }
        svg polyline.line { fill: none; }
        section.form form, form.signin { display: grid; grid-template-columns: repeat(auto-fill, minmax(16rem, 1fr)); gap: .75rem; max-width: 60rem; }
        form.signin { grid-template-columns: 1fr; max-width: 22rem; }
        label { display: flex; flex-direction: column; gap: .2rem; font-size: .9rem; }
        label.check { flex-direction: row; align-items: center; }
        .wide { grid-column: 1 / -1; }
        fieldset { border: 1px solid var(--line); display: flex; flex-wrap: wrap; gap: .5rem 1rem; }
        input, select, textarea, button { font: inherit; padding: .3rem; }
        button { background: var(--accent); color: #fff; border: 0; border-radius: 4px; padding: .4rem .9rem; cursor: pointer; justify-self: start; }
        dl.fields { display: grid; grid-template-columns: max-content 1fr; gap: .3rem 1rem; }
        dl.fields dt { font-weight: 600; }
        table.figures { width: auto; min-width: 28rem; }
        section.term h2 small { color: var(--muted); font-weight: normal; }
        .section { break-before: page; }
        @media print {
          header.top, form.filter, .pages, section.form, .signout, p.back { display: none; }
          body, main { margin: 0; padding: 0; background: #fff; }
          .section, section.term + section.term { break-before: page; }
          tr, .tile { break-inside: avoid; }
        }
        """
}
