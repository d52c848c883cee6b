-- The previous system's artifacts table, as its own migration creates it
-- (kihiu-ho/ibkr-trading-webui, database/migrations/create_artifacts_table.sql):
-- SERIAL id, JSONB columns, DECIMAL(3,2) confidence, COMMENT ON.
CREATE TABLE IF NOT EXISTS artifacts (
    id SERIAL PRIMARY KEY,
    name VARCHAR(255) NOT NULL,
    type VARCHAR(50) NOT NULL,
    symbol VARCHAR(50),
    run_id VARCHAR(255),
    experiment_id VARCHAR(255),
    workflow_id VARCHAR(255),
    execution_id VARCHAR(255),
    step_name VARCHAR(100),
    dag_id VARCHAR(255),
    task_id VARCHAR(255),
    prompt TEXT,
    response TEXT,
    prompt_length INTEGER,
    response_length INTEGER,
    model_name VARCHAR(100),
    image_path TEXT,
    chart_type VARCHAR(50),
    chart_data JSONB,
    action VARCHAR(20),
    confidence DECIMAL(3,2),
    signal_data JSONB,
    artifact_metadata JSONB,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT CURRENT_TIMESTAMP NOT NULL,
    updated_at TIMESTAMP WITH TIME ZONE
);
CREATE INDEX IF NOT EXISTS idx_artifacts_type ON artifacts(type);
CREATE INDEX IF NOT EXISTS idx_artifacts_execution_id ON artifacts(execution_id);
CREATE INDEX IF NOT EXISTS idx_artifacts_created_at ON artifacts(created_at DESC);
COMMENT ON TABLE artifacts IS 'Stores ML/LLM artifacts including charts, signals, and analysis results';
COMMENT ON COLUMN artifacts.execution_id IS 'Specific workflow execution/run ID';
COMMENT ON COLUMN artifacts.artifact_metadata IS 'Additional metadata (stored as metadata in API)';
