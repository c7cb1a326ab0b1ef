import KalshiModels
import SecmasterSchema

/// The OpenAPI 3 description of this API, served at `/openapi.yaml` (embedded in the binary;
/// tests parse and validate it). Written by hand, except the Market schema, which follows
/// `MarketRow.columns` like the API itself.
enum OpenAPIDocument {
    /// `components.schemas.Market`: every stored column with its type and meaning.
    static let marketSchema: String = {
        func schema(_ kind: ColumnKind, required: Bool) -> String {
            switch kind {
            case .text: return required ? "type: string" : "type: string, nullable: true"
            case .decimal: return "type: string, nullable: true, pattern: '^-?[0-9]+(\\.[0-9]+)?$', example: '0.5600'"
            case .timestamp: return required ? "type: string, format: date-time" : "type: string, format: date-time, nullable: true"
            case .bool: return "type: boolean, nullable: true"
            case .integer: return "type: integer, format: int64, nullable: true"
            case .json: return "nullable: true"
            }
        }
        func quoted(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "''") + "'" }
        var lines = [
            "    Market:",
            "      type: object",
            "      description: A market as stored; every column of the markets table",
            "      required: [\(MarketRow.columns.filter(\.isRequired).map(\.name).joined(separator: ", "))]",
            "      properties:",
        ]
        for c in MarketRow.columns {
            lines.append("        \(c.name): {\(schema(c.kind, required: c.isRequired)), description: \(quoted(c.help))}")
        }
        lines += [
            "        gone_at: {type: string, format: date-time, nullable: true, description: 'When a complete sync proved the market gone from the exchange'}",
            "        created_at: {type: string, format: date-time, description: 'When ssmd first stored the market'}",
            "        updated_at: {type: string, format: date-time, description: 'When ssmd last changed the stored row'}",
        ]
        return lines.joined(separator: "\n")
    }()

    static let yaml = #"""
openapi: 3.0.3
info:
  title: ssmd data API
  version: "1"
  description: |
    Read-only access to the ssmd security master (Kalshi series and markets) in PostgreSQL.
    JSON is snake_case. Times are RFC 3339 in UTC; prices (dollars) and counts (contracts)
    are exact decimal strings, never floats. Lists are ordered by ticker and paginated by
    keyset: pass the `cursor` of a page to get the next one; `cursor` is null on the last page.
servers:
  - url: http://127.0.0.1:8080
paths:
  /v1/series:
    get:
      operationId: listSeries
      summary: Tracked series, by ticker
      parameters:
        - {name: category, in: query, schema: {type: string}, description: "Exact category, e.g. Sports"}
        - {name: tag, in: query, schema: {type: string}, description: "Series carrying this tag (exact, e.g. S&P — URL-encode it: S%26P)"}
        - {name: games_only, in: query, schema: {type: boolean, default: false}, description: Only game series}
        - {name: active, in: query, schema: {type: boolean}, description: "true: series the exchange still lists; false: the others; absent: both"}
        - $ref: '#/components/parameters/limit'
        - $ref: '#/components/parameters/cursor'
      responses:
        "200":
          description: A page of series
          content:
            application/json:
              schema:
                type: object
                required: [series, cursor]
                properties:
                  series: {type: array, items: {$ref: '#/components/schemas/Series'}}
                  cursor: {$ref: '#/components/schemas/Cursor'}
        "400": {$ref: '#/components/responses/BadRequest'}
  /v1/series/stats:
    get:
      operationId: seriesStatsByCategory
      summary: Series per category
      parameters:
        - {name: category, in: query, schema: {type: string}}
      responses:
        "200":
          description: Per category, series total, game series and active series
          content:
            application/json:
              schema:
                type: object
                required: [categories]
                properties:
                  categories:
                    type: array
                    items:
                      type: object
                      required: [category, total, games, active]
                      properties:
                        category: {type: string}
                        total: {type: integer}
                        games: {type: integer}
                        active: {type: integer}
        "400": {$ref: '#/components/responses/BadRequest'}
  /v1/series/{ticker}:
    get:
      operationId: getSeries
      summary: One series
      parameters:
        - {name: ticker, in: path, required: true, schema: {type: string}}
      responses:
        "200":
          description: The series
          content:
            application/json:
              schema:
                type: object
                required: [series]
                properties:
                  series: {$ref: '#/components/schemas/Series'}
        "404": {$ref: '#/components/responses/NotFound'}
  /v1/stats/series:
    get:
      operationId: marketStatsBySeries
      summary: Markets of each series by raw exchange status
      parameters:
        - {name: series, in: query, schema: {type: string}, description: "One series ticker"}
        - {name: tag, in: query, schema: {type: string}}
        - {name: category, in: query, schema: {type: string}}
        - $ref: '#/components/parameters/limit'
        - $ref: '#/components/parameters/cursor'
      responses:
        "200":
          description: Per series, its live markets counted by status, and how many the exchange no longer lists
          content:
            application/json:
              schema:
                type: object
                required: [series, cursor]
                properties:
                  cursor: {$ref: '#/components/schemas/Cursor'}
                  series:
                    type: array
                    items:
                      type: object
                      required: [series_ticker, category, is_game, active, markets_total, markets_gone, markets_by_status]
                      properties:
                        series_ticker: {type: string}
                        category: {type: string}
                        is_game: {type: boolean}
                        active: {type: boolean}
                        markets_total: {type: integer, description: Markets the exchange still lists}
                        markets_gone: {type: integer, description: Markets a complete sync proved gone from the exchange}
                        markets_by_status:
                          type: object
                          additionalProperties: {type: integer}
                          example: {active: 12, finalized: 3}
        "400": {$ref: '#/components/responses/BadRequest'}
  /v1/markets:
    get:
      operationId: listMarkets
      summary: Markets, by ticker
      parameters:
        - {name: series, in: query, schema: {type: string}, description: Series ticker}
        - {name: tag, in: query, schema: {type: string}, description: Markets of series carrying this tag}
        - name: status
          in: query
          description: Raw exchange status
          schema: {type: string, enum: [initialized, active, inactive, closed, determined, disputed, amended, finalized]}
        - $ref: '#/components/parameters/limit'
        - $ref: '#/components/parameters/cursor'
      responses:
        "200":
          description: A page of markets
          content:
            application/json:
              schema:
                type: object
                required: [markets, cursor]
                properties:
                  markets: {type: array, items: {$ref: '#/components/schemas/Market'}}
                  cursor: {$ref: '#/components/schemas/Cursor'}
        "400": {$ref: '#/components/responses/BadRequest'}
  /v1/markets/{ticker}:
    get:
      operationId: getMarket
      summary: One market (tickers may contain dots, e.g. KXBTCD-25NOV2517-T98999.99)
      parameters:
        - {name: ticker, in: path, required: true, schema: {type: string}}
      responses:
        "200":
          description: The market
          content:
            application/json:
              schema:
                type: object
                required: [market]
                properties:
                  market: {$ref: '#/components/schemas/Market'}
        "404": {$ref: '#/components/responses/NotFound'}
  /v1/events:
    get:
      operationId: listEvents
      summary: Events, by ticker
      parameters:
        - {name: series, in: query, schema: {type: string}, description: Series ticker}
        - $ref: '#/components/parameters/limit'
        - $ref: '#/components/parameters/cursor'
      responses:
        "200":
          description: A page of events
          content:
            application/json:
              schema:
                type: object
                required: [events, cursor]
                properties:
                  events: {type: array, items: {$ref: '#/components/schemas/Event'}}
                  cursor: {$ref: '#/components/schemas/Cursor'}
        "400": {$ref: '#/components/responses/BadRequest'}
  /v1/events/{ticker}:
    get:
      operationId: getEvent
      summary: One event
      parameters:
        - {name: ticker, in: path, required: true, schema: {type: string}}
      responses:
        "200":
          description: The event
          content:
            application/json:
              schema:
                type: object
                required: [event]
                properties:
                  event: {$ref: '#/components/schemas/Event'}
        "404": {$ref: '#/components/responses/NotFound'}
  /healthz:
    get:
      operationId: healthz
      summary: The process is alive
      responses:
        "200": {description: Alive, content: {application/json: {schema: {$ref: '#/components/schemas/Status'}}}}
  /readyz:
    get:
      operationId: readyz
      summary: The database answers
      responses:
        "200": {description: Ready, content: {application/json: {schema: {$ref: '#/components/schemas/Status'}}}}
        "503": {description: The database does not answer, content: {application/json: {schema: {$ref: '#/components/schemas/Status'}}}}
  /openapi.yaml:
    get:
      operationId: openapi
      summary: This document
      responses:
        "200": {description: OpenAPI 3 YAML, content: {application/yaml: {schema: {type: string}}}}
  /:
    get:
      operationId: dashboard
      summary: Admin dashboard (HTML)
      parameters:
        - {name: series, in: query, schema: {type: string}, description: Also show this series' markets}
      responses:
        "200": {description: HTML page, content: {text/html: {schema: {type: string}}}}
components:
  parameters:
    limit:
      name: limit
      in: query
      description: Page size
      schema: {type: integer, minimum: 1, maximum: 1000, default: 100}
    cursor:
      name: cursor
      in: query
      description: Opaque cursor of the previous page
      schema: {type: string}
  responses:
    BadRequest:
      description: A parameter is invalid (named in error.parameter)
      content: {application/json: {schema: {$ref: '#/components/schemas/Error'}}}
    NotFound:
      description: No such ticker or path
      content: {application/json: {schema: {$ref: '#/components/schemas/Error'}}}
  schemas:
    Cursor:
      type: string
      nullable: true
      description: Pass as `cursor` to get the next page; null on the last page
    Status:
      type: object
      required: [status]
      properties:
        status: {type: string}
        reason: {type: string}
    Error:
      type: object
      required: [error]
      properties:
        error:
          type: object
          required: [code, message]
          properties:
            code: {type: string, enum: [bad_request, not_found, method_not_allowed, unavailable]}
            parameter: {type: string, description: The offending parameter (bad_request only)}
            message: {type: string}
    Series:
      type: object
      required: [ticker, title, category, tags, is_game, active, created_at, updated_at]
      properties:
        ticker: {type: string, example: KXNBAGAME}
        title: {type: string}
        category: {type: string, example: Sports}
        tags: {type: array, items: {type: string}, example: [Basketball]}
        is_game: {type: boolean}
        active: {type: boolean, description: false once the exchange stopped listing the series}
        created_at: {type: string, format: date-time}
        updated_at: {type: string, format: date-time}
    Event:
      type: object
      description: An event as stored; every column of the events table
      required: [ticker, series_ticker, fetched_at, created_at, updated_at]
      properties:
        ticker: {type: string, example: KXNBAGAME-26JAN05LALBOS}
        series_ticker: {type: string}
        title: {type: string, nullable: true}
        sub_title: {type: string, nullable: true}
        category: {type: string, nullable: true, description: The exchange's own category of the event}
        mutually_exclusive: {type: boolean, nullable: true}
        strike_date: {$ref: '#/components/schemas/Time'}
        strike_period: {type: string, nullable: true}
        collateral_return_type: {type: string, nullable: true}
        exchange_updated_at: {allOf: [{$ref: '#/components/schemas/Time'}], description: "The exchange's last_updated_ts"}
        fetched_at: {type: string, format: date-time, description: When ssmd read it from the exchange}
        gone_at: {allOf: [{$ref: '#/components/schemas/Time'}], description: When a complete sync found it no longer listed}
        created_at: {type: string, format: date-time}
        updated_at: {type: string, format: date-time}
"""# + "\n" + marketSchema + "\n" + #"""
    Decimal:
      type: string
      nullable: true
      pattern: '^-?[0-9]+(\.[0-9]+)?$'
      example: "0.5600"
    Time:
      type: string
      format: date-time
      nullable: true
"""#
}
