# One image for the console and the sensor.
FROM python:3.11-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends libpcap0.8 \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/liaowang
COPY pyproject.toml README.md ./
COPY liaowang ./liaowang
COPY sensor ./sensor
COPY detection ./detection
COPY pipelines ./pipelines
COPY console ./console
COPY signatures ./signatures
RUN pip install --no-cache-dir . \
    && pip install --no-cache-dir --no-deps pysigma-backend-elasticsearch==2.1.1
RUN useradd --system --home /var/lib/liaowang liaowang \
    && mkdir -p /var/lib/liaowang && chown liaowang /var/lib/liaowang
WORKDIR /var/lib/liaowang
USER liaowang
EXPOSE 8080
ENTRYPOINT ["liaowang"]
CMD ["console", "--host", "0.0.0.0", "--port", "8080"]
