import { useMemo, type ReactNode } from 'react';
import { Link } from 'react-router';
import { api, databasePath } from '../api';
import { TimeChart } from '../components/chart';
import { Badge, ErrorNote, PageHeader } from '../components/ui';
import { useLoad } from '../hooks';
import type { Overview } from '../types';

const REFRESH_MS = 10_000;

export function OverviewPage() {
  const overview = useLoad(() => api<Overview>('GET', '/console/overview'), [], REFRESH_MS);
  const data = overview.data;
  const series = useMemo(() => {
    const history = data?.history ?? [];
    const pick = (key: keyof (typeof history)[number]) =>
      history.map((p) => (p[key] as number | null) ?? null);
    return {
      times: history.map((p) => Date.parse(p.at) / 1000),
      connections: pick('connections'),
      sessions: pick('sessions'),
      logins: pick('logins'),
      loginFailures: pick('loginFailures'),
      rate: pick('statementsPerSecond'),
      latency: pick('meanLatencyMs'),
      busy: pick('upstreamBusy'),
      idle: pick('upstreamIdle'),
    };
  }, [data]);
  const last = data?.history.at(-1);

  return (
    <section>
      <PageHeader title="Overview">
        <span className="hint">Updated every {REFRESH_MS / 1000} s</span>
      </PageHeader>
      <ErrorNote error={overview.error} />
      {data && (
        <>
          <div className="stats" role="list">
            <Stat label="Live connections" value={data.connections.authenticated}>
              {data.connections.unauthenticated} signing in
            </Stat>
            <Stat label="Logins, last hour" value={data.lastHour.logins}>
              <span className={data.lastHour.loginFailures > 0 ? 'text-warn' : ''}>
                {data.lastHour.loginFailures} failed
              </span>
            </Stat>
            <Stat label="Statements / s" value={last?.statementsPerSecond ?? 0}>
              mean {last?.meanLatencyMs ?? '—'} ms
            </Stat>
            <Stat label="Upstream pool" value={`${data.upstream.busy} busy`}>
              {data.upstream.idle} idle
            </Stat>
            <Stat
              label="Upstream health"
              value={
                data.upstream.problem ? (
                  <Badge tone="danger">degraded</Badge>
                ) : (
                  <Badge tone="ok">healthy</Badge>
                )
              }
            >
              {data.upstream.problem ?? 'new sessions get connections'}
            </Stat>
          </div>
          <div className="charts">
            <TimeChart
              title="Connections and sessions"
              times={series.times}
              series={[
                { label: 'connections', color: '#2f5bd3', values: series.connections },
                { label: 'sessions', color: '#17a589', values: series.sessions },
              ]}
            />
            <TimeChart
              title="Statements per second"
              times={series.times}
              series={[{ label: 'statements/s', color: '#8e44ad', values: series.rate }]}
            />
            <TimeChart
              title="Mean statement latency"
              unit=" ms"
              times={series.times}
              series={[{ label: 'latency (ms)', color: '#d35400', values: series.latency }]}
            />
            <TimeChart
              title="Logins per interval"
              times={series.times}
              series={[
                { label: 'succeeded', color: '#17a589', values: series.logins },
                { label: 'failed', color: '#c0392b', values: series.loginFailures },
              ]}
            />
            <TimeChart
              title="Upstream connections"
              times={series.times}
              series={[
                { label: 'busy', color: '#d35400', values: series.busy },
                { label: 'idle', color: '#7f8c8d', values: series.idle },
              ]}
            />
          </div>
          <div className="two-columns">
            <div className="card">
              <h2>Sessions per database</h2>
              {data.sessionsByDatabase.length === 0 ? (
                <p className="empty">No live sessions.</p>
              ) : (
                <table>
                  <thead>
                    <tr>
                      <th scope="col">Database</th>
                      <th scope="col" className="num">
                        Sessions
                      </th>
                    </tr>
                  </thead>
                  <tbody>
                    {data.sessionsByDatabase.map((row) => (
                      <tr key={row.database}>
                        <td>
                          <Link to={databasePath(row.database)}>{row.database}</Link>
                        </td>
                        <td className="num">{row.sessions}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              )}
            </div>
            <div className="card">
              <h2>Pools</h2>
              {data.pools.length === 0 ? (
                <p className="empty">No pooled connections.</p>
              ) : (
                <table>
                  <thead>
                    <tr>
                      <th scope="col">Database</th>
                      <th scope="col">Role</th>
                      <th scope="col" className="num">
                        In use
                      </th>
                      <th scope="col" className="num">
                        Idle
                      </th>
                    </tr>
                  </thead>
                  <tbody>
                    {data.pools.map((pool) => (
                      <tr key={`${pool.database} ${pool.level}`}>
                        <td>{pool.database}</td>
                        <td>{pool.level}</td>
                        <td className="num">{pool.inUse}</td>
                        <td className="num">{pool.idle}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              )}
            </div>
          </div>
        </>
      )}
    </section>
  );
}

function Stat({
  label,
  value,
  children,
}: {
  label: string;
  value: ReactNode;
  children?: ReactNode;
}) {
  return (
    <div className="card stat" role="listitem">
      <div className="stat-label">{label}</div>
      <div className="stat-value">{value}</div>
      <div className="stat-sub">{children}</div>
    </div>
  );
}
