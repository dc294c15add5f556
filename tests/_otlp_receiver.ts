/**
 * A small OTLP/HTTP receiver on loopback for tests: it accepts the JSON
 * protocol (`OTEL_EXPORTER_OTLP_PROTOCOL=http/json`), keeps every request
 * body, and answers as a collector does.
 */

/** A span as OTLP/JSON carries it, with its attributes flattened. */
export interface ReceivedSpan {
  readonly name: string;
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId: string;
  readonly scope: string;
  readonly status: { code?: number; message?: string };
  readonly attributes: Record<string, unknown>;
}

/** A metric data point, with its attributes flattened. */
export interface ReceivedPoint {
  readonly metric: string;
  readonly unit: string;
  readonly attributes: Record<string, unknown>;
  /** The sum of a counter's point, or of a histogram's. */
  readonly value: number;
  /** A histogram's count. */
  readonly count?: number;
}

type OtlpValue = Record<string, unknown>;

function value(v: OtlpValue): unknown {
  if ("stringValue" in v) return v.stringValue;
  if ("boolValue" in v) return v.boolValue;
  if ("intValue" in v) return Number(v.intValue);
  if ("doubleValue" in v) return v.doubleValue;
  return v;
}

function attributes(list: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const a of (list ?? []) as { key: string; value: OtlpValue }[]) {
    out[a.key] = value(a.value);
  }
  return out;
}

/** The receiver: its endpoint, what it got, and how to stop it. */
export class OtlpReceiver {
  readonly #server: Deno.HttpServer<Deno.NetAddr>;
  readonly bodies: { path: string; type: string; body: unknown }[] = [];

  constructor() {
    this.#server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      async (request) => {
        const type = request.headers.get("content-type") ?? "";
        const text = await request.text();
        this.bodies.push({
          path: new URL(request.url).pathname,
          type,
          body: type.includes("json") ? JSON.parse(text) : text,
        });
        return Response.json({});
      },
    );
  }

  /** The base URL for `OTEL_EXPORTER_OTLP_ENDPOINT`. */
  get endpoint(): string {
    return `http://127.0.0.1:${this.#server.addr.port}`;
  }

  /** Every span received. */
  spans(): ReceivedSpan[] {
    const out: ReceivedSpan[] = [];
    for (const { path, body } of this.bodies) {
      if (path !== "/v1/traces") continue;
      // deno-lint-ignore no-explicit-any
      for (const rs of (body as any).resourceSpans ?? []) {
        for (const ss of rs.scopeSpans ?? []) {
          for (const s of ss.spans ?? []) {
            out.push({
              name: s.name,
              traceId: s.traceId,
              spanId: s.spanId,
              parentSpanId: s.parentSpanId ?? "",
              scope: ss.scope?.name ?? "",
              status: s.status ?? {},
              attributes: attributes(s.attributes),
            });
          }
        }
      }
    }
    return out;
  }

  /** Every metric data point received. */
  points(): ReceivedPoint[] {
    const out: ReceivedPoint[] = [];
    for (const { path, body } of this.bodies) {
      if (path !== "/v1/metrics") continue;
      // deno-lint-ignore no-explicit-any
      for (const rm of (body as any).resourceMetrics ?? []) {
        for (const sm of rm.scopeMetrics ?? []) {
          for (const m of sm.metrics ?? []) {
            const data = m.sum ?? m.histogram ?? m.gauge ?? {};
            for (const p of data.dataPoints ?? []) {
              out.push({
                metric: m.name,
                unit: m.unit ?? "",
                attributes: attributes(p.attributes),
                value: Number(p.asInt ?? p.asDouble ?? p.sum ?? 0),
                ...(p.count === undefined ? {} : { count: Number(p.count) }),
              });
            }
          }
        }
      }
    }
    return out;
  }

  /** Stops listening. */
  async close(): Promise<void> {
    await this.#server.shutdown();
  }
}
