"""ibkr_trading_signal_workflow: market data -> charts -> analyst -> signal -> order -> MLflow.

Every artifact is stored inside the execution's open MLflow run, so it carries the run id
that log_to_mlflow returns, and names the artifacts it was derived from (the decision chain:
order <- signal <- analysis <- daily and weekly charts <- the market data window of each).
HOLD signals place no order (and store no order artifact); BUY and SELL always record one, on
paper unless the ibkr broker is configured.
"""
from __future__ import annotations

from provenant.adapters.analysts import AnalystError, AnalystRequest, ChartImage, get_analyst
from provenant.adapters.brokers import get_broker
from provenant.adapters.market_data import check_source, fetch_bars
from provenant.domain.provenance import run_manifest
from provenant.domain.indicators import compute_indicators, resample_weekly, snapshot
from provenant.domain.market import window_payload
from provenant.domain.signals import Order
from provenant.service.images import read_image
from provenant.workflows.ibkr_signal.models import (
    AnalysisInputs, AnalysisOutputs, AnalysisRef, ChartInputs, ChartRef, DailyChart, LogInputs,
    LogOutputs, MarketData, OrderInputs, OrderOutcome, OrderOutputs, RunParams,
    SignalInputs, SignalOutputs, SymbolInputs, WeeklyChart, resolve_params)
from provenant.workflows.engine.steps import Step, StepContext, Workflow
from provenant.workflows.ibkr_signal import WORKFLOW_ID
from provenant.workflows.ibkr_signal.charts import (
    DAILY_BARS_SHOWN, WEEKLY_BARS_SHOWN, render_chart)
from provenant.workflows.ibkr_signal.mlflow_logging import log_execution


def fetch_market_data(ctx: StepContext, inputs: SymbolInputs) -> MarketData:
    """Daily bars from the chosen provider, validated, with daily and weekly indicators."""
    p = inputs.params
    market = fetch_bars(p.market_data_provider, inputs.symbol, ctx.settings,
                        csv_path=p.market_data_csv, lookback=p.lookback_bars)
    daily = market.to_frame()
    return MarketData(market=market, daily_indicators=snapshot(daily, "daily"),
                      weekly_indicators=snapshot(resample_weekly(daily), "weekly"))


def check_market_data(symbol: str, params: RunParams) -> None:
    """Refuse, before the run opens, a symbol or file that fetch_market_data cannot read."""
    check_source(params.market_data_provider, symbol, params.market_data_csv)


def _chart(ctx: StepContext, inputs: ChartInputs, chart_type: str) -> ChartRef:
    """Store the bars of `chart_type` as a market_data artifact, then the chart drawn from them.

    The bars come from the step's inputs, so a retried step stores the same window again,
    which the idempotent store answers with the artifact it already holds.
    """
    bars = inputs.market.to_frame()
    shown = DAILY_BARS_SHOWN
    if chart_type == "weekly":
        bars, shown = resample_weekly(bars), WEEKLY_BARS_SHOWN
    window = ctx.writer.market_data(
        name=f"{inputs.symbol} {chart_type} market data", symbol=inputs.symbol,
        step_name=ctx.step_name, **window_payload(bars, chart_type, inputs.market.provider))
    indicators = compute_indicators(bars)
    png = render_chart(bars, indicators, title=f"{inputs.symbol} {chart_type}", bars_shown=shown)
    shown = min(shown, len(bars))
    latest = snapshot(bars, chart_type, indicators)
    artifact = ctx.writer.chart(
        name=f"{inputs.symbol} {chart_type} chart", symbol=inputs.symbol, image=png,
        chart_type=chart_type, step_name=ctx.step_name,
        indicators=latest.model_dump(mode="json", exclude_none=True),
        bars_shown=shown, first_date=bars.index[-shown].date().isoformat(),
        last_date=inputs.market.last_date.isoformat(), data_provider=inputs.market.provider,
        inputs=[window.id])
    return ChartRef(artifact_id=artifact.id, chart_type=chart_type, bars_shown=shown,
                    market_data_artifact_id=window.id)


def generate_daily_chart(ctx: StepContext, inputs: ChartInputs) -> DailyChart:
    """Candlesticks of the last six months with overlays, volume and RSI."""
    return DailyChart(daily_chart=_chart(ctx, inputs, "daily"))


def generate_weekly_chart(ctx: StepContext, inputs: ChartInputs) -> WeeklyChart:
    """The same on weekly bars resampled from the daily ones."""
    return WeeklyChart(weekly_chart=_chart(ctx, inputs, "weekly"))


def chart_png(ctx: StepContext, artifact_id: int) -> bytes:
    """A stored chart's image bytes, from the blob store."""
    return read_image(ctx.deps.artifacts, ctx.deps.blobs, artifact_id)[0]


def analyze_with_llm(ctx: StepContext, inputs: AnalysisInputs) -> AnalysisOutputs:
    """Ask the analyst for a signal; store the exchange (also a failed one) as the LLM artifact."""
    charts = [ChartImage(ref.chart_type, chart_png(ctx, ref.artifact_id), ref.artifact_id)
              for ref in (inputs.daily_chart, inputs.weekly_chart)]
    request = AnalystRequest(inputs.symbol, inputs.daily_indicators, inputs.weekly_indicators,
                             charts)
    name = f"{inputs.symbol} chart analysis"
    chart_ids = [c.artifact_id for c in charts]
    common = {"name": name, "symbol": inputs.symbol, "step_name": ctx.step_name,
              "chart_artifact_ids": chart_ids, "inputs": chart_ids}
    try:
        analysis = get_analyst(inputs.params.analyst, ctx.settings).analyze(request)
    except AnalystError as exc:
        if exc.exchange:  # keep what the model said: auditors need the failed answers too
            # Each failed attempt under its own name: a retry's answer is other evidence,
            # not a replay of this one (the name is part of the artifact's idempotency key).
            tried = sum(a.step_name == ctx.step_name and a.payload.get("valid") is False
                        for a in ctx.deps.artifacts.by_execution(ctx.execution_id))
            ctx.writer.llm(**{**common, "name": f"{name} (failed attempt {tried + 1})"},
                           **exc.exchange, valid=False, error=str(exc))
        raise
    stored = ctx.writer.llm(
        **common, prompt=analysis.prompt, response=analysis.response,
        model_name=analysis.model_name, provider=analysis.provider,
        latency_ms=analysis.latency_ms, prompt_tokens=analysis.prompt_tokens,
        completion_tokens=analysis.completion_tokens, attempts=analysis.attempts,
        rejected=analysis.rejected, valid=True)
    return AnalysisOutputs(analysis=AnalysisRef(
        llm_artifact_id=stored.id, model_name=analysis.model_name, provider=analysis.provider,
        attempts=analysis.attempts, proposal=analysis.signal))


def generate_signal(ctx: StepContext, inputs: SignalInputs) -> SignalOutputs:
    """Store the analyst's validated proposal as the execution's signal."""
    signal = inputs.analysis.proposal
    fields = signal.model_dump(mode="json", exclude={"action", "confidence"}, exclude_none=True)
    stored = ctx.writer.signal(
        name=f"{inputs.symbol} {signal.action} signal", symbol=inputs.symbol,
        action=signal.action, confidence=signal.confidence, step_name=ctx.step_name,
        **fields, model_name=inputs.analysis.model_name,
        llm_artifact_id=inputs.analysis.llm_artifact_id,
        inputs=[inputs.analysis.llm_artifact_id])
    return SignalOutputs(signal=signal, signal_artifact_id=stored.id)


def place_order(ctx: StepContext, inputs: OrderInputs) -> OrderOutputs:
    """BUY/SELL: a bracket order via the broker, recorded as an artifact. HOLD: nothing."""
    broker_name = inputs.params.broker
    if inputs.signal.action == "HOLD":
        return OrderOutputs(order=OrderOutcome(status="skipped", broker=broker_name,
                                               reason="signal is HOLD: no order placed"))
    order = Order.for_signal(inputs.symbol, inputs.signal, inputs.params.order_quantity)
    placement = get_broker(broker_name, ctx.settings).place(order)
    stored = ctx.writer.order(
        name=f"{inputs.symbol} {order.side} {order.quantity} ({placement.broker})",
        symbol=inputs.symbol, side=order.side, quantity=order.quantity,
        order_type=order.order_type, step_name=ctx.step_name,
        limit_price=order.limit_price, stop_loss=order.stop_loss,
        take_profit=order.take_profit, broker=placement.broker, status=placement.status,
        sent=placement.sent, **placement.details,
        inputs=[inputs.signal_artifact_id] if inputs.signal_artifact_id else [])
    return OrderOutputs(order=OrderOutcome(status=placement.status, broker=placement.broker,
                                           artifact_id=stored.id))


def log_to_mlflow(ctx: StepContext, inputs: LogInputs) -> LogOutputs:
    """Params, metrics, chart images, artifact ids and the run manifest (each artifact's hash
    and inputs, an independent record for `lineage verify`) into the execution's run; its id."""
    artifact_ids = [i for ref in (inputs.daily_chart, inputs.weekly_chart)
                    for i in (ref.market_data_artifact_id, ref.artifact_id) if i is not None]
    artifact_ids += [inputs.analysis.llm_artifact_id, inputs.signal_artifact_id]
    if inputs.order.artifact_id is not None:
        artifact_ids.append(inputs.order.artifact_id)
    charts = {ref.chart_type: chart_png(ctx, ref.artifact_id)
              for ref in (inputs.daily_chart, inputs.weekly_chart)}
    # Sealed first: a PATCH racing this step either committed before (the manifest reads its
    # hash) or is refused; never a manifest that disagrees with what was accepted.
    ctx.deps.artifacts.seal(artifact_ids, ctx.run.run_id)
    stored = ctx.deps.artifacts.get_many(artifact_ids)
    manifest = run_manifest(stored, ctx.deps.artifacts.edges(artifact_ids, "up"))
    log_execution(ctx.deps.tracker, ctx.run.run_id, inputs, charts, artifact_ids, manifest)
    return LogOutputs(logged_run_id=ctx.run.run_id, logged_artifact_ids=artifact_ids)


WORKFLOW = Workflow(
    workflow_id=WORKFLOW_ID,
    description="Daily and weekly charts of a symbol, analysed into a trading signal and order",
    resolve_params=resolve_params,
    check_inputs=check_market_data,
    steps=(
        Step("fetch_market_data", fetch_market_data, SymbolInputs, MarketData, retries=2),
        Step("generate_daily_chart", generate_daily_chart, ChartInputs, DailyChart),
        Step("generate_weekly_chart", generate_weekly_chart, ChartInputs, WeeklyChart),
        Step("analyze_with_llm", analyze_with_llm, AnalysisInputs, AnalysisOutputs),
        Step("generate_signal", generate_signal, SignalInputs, SignalOutputs),
        Step("place_order", place_order, OrderInputs, OrderOutputs),
        Step("log_to_mlflow", log_to_mlflow, LogInputs, LogOutputs, retries=2),
    ),
)
